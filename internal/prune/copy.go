// Package prune is the pruning step: it copies a runtime closure into a
// Heroku-style slug or an image's layers through the app's .slugexclude
// rules (package exclude), as `rsync -a --prune-empty-dirs
// --exclude-from=FILE` would and without rsync, explains any path's fate,
// refuses to remove what the app needs (Guard) and measures what pruning
// saved. It runs on Linux (stat fields, utimensat, mknod).
package prune

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/nix-buildpack/nix-buildpack/internal/exclude"
	"github.com/nix-buildpack/nix-buildpack/internal/prune/dirfd"

	"golang.org/x/sys/unix"
)

// Copy copies SRC to DST applying the rules, producing what
// `rsync -a [--prune-empty-dirs] --exclude-from=FILE SRC/ DST/` produces:
// the kept names with their types, permission bits, owners (where allowed),
// symlink targets (never followed) and modification times, directories' and
// DST's own included. DST is created when missing; entries already in DST are
// replaced or merged into, never deleted.
func Copy(src, dst string, rules *exclude.Rules, opts Options) (*Report, error) {
	c := &copier{src: src, dst: dst, opts: opts, root: os.Geteuid() == 0, gid: uint32(os.Getegid()), uid: uint32(os.Geteuid())}
	var (
		rep *Report
		err error
	)
	if c.canStream() {
		// Entries are created while SRC is read: reading and creating overlap.
		if rep, err = plan(src, rules, opts, c); err != nil {
			return nil, err
		}
	} else {
		if rep, err = Plan(src, rules, opts); err != nil {
			return nil, err
		}
		if err := c.prepare(); err != nil {
			return nil, err
		}
		// Entries are created by a pool of workers, each directory before what
		// it holds; a directory's children are queued once it exists.
		kids, top := children(rep.Kept)
		err = c.pool(len(rep.Kept), top, func(i int) ([]int, error) {
			e := &rep.Kept[i]
			if !e.Mode.IsDir() {
				return nil, c.create(e)
			}
			return kids[i], c.mkdir(e)
		})
		if err != nil {
			return nil, err
		}
		// Directory attributes go last: filling a directory changes its time,
		// and a read-only directory cannot be filled. Once all exists, any
		// order does. (Streaming, each directory is finished once filled.)
		var dirs []int
		for i := range rep.Kept {
			if rep.Kept[i].Mode.IsDir() {
				dirs = append(dirs, i)
			}
		}
		err = c.pool(len(dirs), dirs, func(i int) ([]int, error) {
			return nil, c.finishDir(&rep.Kept[i])
		})
		if err != nil {
			return nil, err
		}
	}
	if err := c.finish(dst, rep.rootMode, rep.root); err != nil {
		return nil, err
	}
	rep.Linked, rep.Copied, rep.Bytes = int(c.linked.Load()), int(c.copied.Load()), c.bytes.Load()
	return rep, nil
}

// children indexes the sorted entries by parent: the children of each entry
// and the entries at the top.
func children(kept []Entry) ([][]int, []int) {
	index := make(map[string]int, len(kept))
	kids := make([][]int, len(kept))
	var top []int
	for i, e := range kept {
		index[e.Path] = i
		if parent := path.Dir(e.Path); parent == "." {
			top = append(top, i)
		} else {
			kids[index[parent]] = append(kids[index[parent]], i)
		}
	}
	return kids, top
}

// canStream says whether entries can be created while SRC is read: only when
// hard-linking (copying, the files of one directory would be copied one
// after another instead of by the whole pool); not when empty directories
// are pruned (only the end of a subtree tells), when a
// selected path is missing (Plan refuses that before anything is written),
// nor when DST is inside SRC (the walk would read what it creates).
func (c *copier) canStream() bool {
	if !c.opts.Link || c.opts.PruneEmptyDirs {
		return false
	}
	src, err1 := filepath.Abs(c.src)
	dst, err2 := filepath.Abs(c.dst)
	rel, err3 := filepath.Rel(src, dst)
	if err1 != nil || err2 != nil || err3 != nil || (rel != ".." && !strings.HasPrefix(rel, "../")) {
		return false
	}
	for _, p := range c.opts.Selected {
		if _, err := os.Lstat(filepath.Join(c.src, p)); err != nil {
			return false
		}
	}
	return true
}

// prepare creates DST and notes whether its group would be forced on files.
func (c *copier) prepare() error {
	if err := os.MkdirAll(c.dst, 0o700); err != nil {
		return fmt.Errorf("unable to create destination %s\n%w", c.dst, err)
	}
	if fi, err := os.Stat(c.dst); err == nil && fi.Mode()&fs.ModeSetgid != 0 {
		c.forceChown = true // files would take DST's group instead of their own
	}
	return nil
}

func (c *copier) workers() int {
	if c.opts.Workers > 0 {
		return c.opts.Workers
	}
	return 4 * runtime.GOMAXPROCS(0)
}

type copier struct {
	src, dst   string
	opts       Options
	root       bool
	uid, gid   uint32
	forceChown bool
	linked     atomic.Int64
	copied     atomic.Int64
	bytes      atomic.Int64
}

// pool runs do on the start tasks and on every task they return, with a
// bounded number of workers; at most total tasks are ever queued. After the
// first error no new task starts, and the errors are returned.
func (c *copier) pool(total int, start []int, do func(i int) ([]int, error)) error {
	if len(start) == 0 {
		return nil
	}
	workers := c.workers()
	queue := make(chan int, total)
	var (
		pending sync.WaitGroup
		failed  atomic.Bool
		mu      sync.Mutex
		errs    []error
	)
	pending.Add(len(start))
	for _, i := range start {
		queue <- i
	}
	var workersDone sync.WaitGroup
	for range min(workers, total) {
		workersDone.Add(1)
		go func() {
			defer workersDone.Done()
			for i := range queue {
				if !failed.Load() {
					next, err := do(i)
					if err != nil {
						failed.Store(true)
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					} else {
						pending.Add(len(next))
						for _, j := range next {
							queue <- j
						}
					}
				}
				pending.Done()
			}
		}()
	}
	pending.Wait()
	close(queue)
	workersDone.Wait()
	return errors.Join(errs...)
}

// create makes one file, symlink or special file in DST.
func (c *copier) create(e *Entry) error {
	if c.opts.Link {
		from, to := filepath.Join(c.src, e.Path), filepath.Join(c.dst, e.Path)
		linked, err := c.linkDone(e, retryExisting(to, func() error { return os.Link(from, to) }))
		if linked || err != nil {
			return err
		}
	}
	return c.recreate(e)
}

// linkDone counts a hard link that was made (true) and says whether a
// failed one may be copied instead (false, nil): across filesystems
// (EXDEV), or where the link is refused (EPERM, EMLINK).
func (c *copier) linkDone(e *Entry, err error) (bool, error) {
	if err == nil {
		c.linked.Add(1)
		return true, nil
	}
	if !errors.Is(err, syscall.EXDEV) && !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EMLINK) {
		return false, fmt.Errorf("unable to link %s to %s\n%w", filepath.Join(c.dst, e.Path), filepath.Join(c.src, e.Path), err)
	}
	return false, nil
}

// recreate copies a file, or makes a symlink or special file like it, in
// DST.
func (c *copier) recreate(e *Entry) error {
	from, to := filepath.Join(c.src, e.Path), filepath.Join(c.dst, e.Path)
	switch {
	case e.Mode.IsRegular():
		return c.copyFile(from, to, e)
	case e.Mode&fs.ModeSymlink != 0:
		if err := retryExisting(to, func() error { return os.Symlink(e.Target, to) }); err != nil {
			return fmt.Errorf("unable to create symlink %s\n%w", to, err)
		}
		if err := c.chown(to, e.meta); err != nil {
			return err
		}
		if err := dirfd.SetMtime(unix.AT_FDCWD, to, e.meta.mtime, true); err != nil {
			return fmt.Errorf("unable to set the time of %s\n%w", to, err)
		}
		c.copied.Add(1)
		return nil
	default:
		// Devices, FIFOs and sockets, which `rsync -a` (-D) recreates.
		err := retryExisting(to, func() error { return syscall.Mknod(to, e.meta.rawMode, int(e.meta.rdev)) })
		if err != nil {
			return fmt.Errorf("unable to create special file %s\n%w", to, err)
		}
		c.copied.Add(1)
		return c.finish(to, e.Mode, e.meta)
	}
}

func (c *copier) copyFile(from, to string, e *Entry) error {
	in, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("unable to open %s\n%w", from, err)
	}
	defer in.Close()
	var out *os.File
	err = retryExisting(to, func() (err error) {
		out, err = os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		return err
	})
	if err != nil {
		return fmt.Errorf("unable to create %s\n%w", to, err)
	}
	n, err := out.ReadFrom(in) // copy_file_range(2) between two files
	if err == nil {
		err = c.fchown(out, e.meta)
	}
	if err == nil {
		err = out.Chmod(e.Mode & permBits)
	}
	if err == nil {
		err = dirfd.SetMtimeFile(out, e.meta.mtime)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("unable to copy %s to %s\n%w", from, to, err)
	}
	c.copied.Add(1)
	c.bytes.Add(n)
	return nil
}

const permBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// mkdir creates a directory of DST, writable by its owner until finish.
func (c *copier) mkdir(e *Entry) error {
	to := filepath.Join(c.dst, e.Path)
	err := os.Mkdir(to, 0o700)
	if errors.Is(err, fs.ErrExist) {
		fi, serr := os.Lstat(to)
		if serr == nil && fi.IsDir() {
			return nil
		}
		if err = os.Remove(to); err == nil {
			err = os.Mkdir(to, 0o700)
		}
	}
	if err != nil {
		return fmt.Errorf("unable to create directory %s\n%w", to, err)
	}
	return nil
}

func (c *copier) finishDir(e *Entry) error {
	return c.finish(filepath.Join(c.dst, e.Path), e.Mode, e.meta)
}

// finish gives a directory or special file its owner, mode and mtime.
func (c *copier) finish(to string, mode fs.FileMode, m meta) error {
	if err := c.chown(to, m); err != nil {
		return err
	}
	if err := os.Chmod(to, mode&permBits); err != nil {
		return fmt.Errorf("unable to set the mode of %s\n%w", to, err)
	}
	if err := dirfd.SetMtime(unix.AT_FDCWD, to, m.mtime, false); err != nil {
		return fmt.Errorf("unable to set the time of %s\n%w", to, err)
	}
	return nil
}

// chown sets the owner as `rsync -a` does: root sets user and group; others
// can only try to set a group they belong to, and a refusal is not an error.
func (c *copier) chown(to string, m meta) error {
	uid, gid, ok := c.owner(m)
	if !ok {
		return nil
	}
	err := os.Lchown(to, uid, gid)
	if err != nil && (c.root || !errors.Is(err, syscall.EPERM)) {
		return fmt.Errorf("unable to set the owner of %s\n%w", to, err)
	}
	return nil
}

func (c *copier) fchown(f *os.File, m meta) error {
	uid, gid, ok := c.owner(m)
	if !ok {
		return nil
	}
	if err := f.Chown(uid, gid); err != nil && (c.root || !errors.Is(err, syscall.EPERM)) {
		return err
	}
	return nil
}

func (c *copier) owner(m meta) (uid, gid int, ok bool) {
	if c.root {
		return int(m.uid), int(m.gid), c.forceChown || m.uid != c.uid || m.gid != c.gid
	}
	return -1, int(m.gid), m.gid != c.gid
}

// retryExisting runs create, and when its target exists removes the target
// (not a non-empty directory) and runs create once more.
func retryExisting(to string, create func() error) error {
	err := create()
	if errors.Is(err, fs.ErrExist) {
		if rerr := os.Remove(to); rerr != nil {
			return rerr
		}
		err = create()
	}
	return err
}
