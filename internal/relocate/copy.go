package relocate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Report is what Copy did.
type Report struct {
	// Paths is how many store paths were copied.
	Paths int
	// Files, Symlinks and Dirs count what was created.
	Files, Symlinks, Dirs int
	// Bytes is the size of the files copied.
	Bytes int64
	// Rewritten is how many occurrences of /nix/store/ were replaced, in
	// RewrittenFiles files and symlinks.
	Rewritten, RewrittenFiles int
	// PycFixed lists the hash-checked .pyc files whose source hash was
	// recomputed because their source changed (relative to dst).
	PycFixed []string
}

// Copy copies the store paths named (base names, "<hash>-name") from
// srcStore, the on-disk directory holding them, into dst (created if
// needed), replacing every /nix/store/ in file contents and symlink
// targets by p. Modes (without setuid and setgid) and modification times
// are kept. Files are always copied, never hard-linked: a link would share
// the rewritten bytes with the original store.
func Copy(srcStore, dst string, names []string, p Prefix) (*Report, error) {
	if _, err := ParsePrefix(string(p)); err != nil || len(p) != len(StoreDir) {
		return nil, fmt.Errorf("invalid relocation prefix %q", p)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return nil, fmt.Errorf("unable to create %s\n%w", dst, err)
	}
	names = append([]string{}, names...)
	sort.Strings(names)
	var (
		mu    sync.Mutex
		total = &Report{Paths: len(names)}
		errs  []error
		wg    sync.WaitGroup
		next  = make(chan string)
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &copier{p: p, rw: newRewriter(p, 256<<10), srcRoot: srcStore, dstRoot: dst}
			for name := range next {
				err := c.entry(name)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
			mu.Lock()
			total.add(&c.rep)
			mu.Unlock()
		}()
	}
	for _, n := range names {
		next <- n
	}
	close(next)
	wg.Wait()
	sort.Strings(total.PycFixed)
	return total, errors.Join(errs...)
}

func (r *Report) add(o *Report) {
	r.Files += o.Files
	r.Symlinks += o.Symlinks
	r.Dirs += o.Dirs
	r.Bytes += o.Bytes
	r.Rewritten += o.Rewritten
	r.RewrittenFiles += o.RewrittenFiles
	r.PycFixed = append(r.PycFixed, o.PycFixed...)
}

// copier copies entries one at a time; Copy runs several.
type copier struct {
	p                Prefix
	rw               *rewriter
	srcRoot, dstRoot string
	rep              Report
}

// entry copies rel (relative to both roots) and what it holds. A
// directory gets its mode and times after its entries are written, as it
// may be read-only (the store's are 0555).
func (c *copier) entry(rel string) error {
	src, dst := filepath.Join(c.srcRoot, rel), filepath.Join(c.dstRoot, rel)
	fi, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("unable to read %s\n%w", src, err)
	}
	switch {
	case fi.Mode().IsRegular():
		err = c.file(src, dst, fi)
	case fi.Mode()&fs.ModeSymlink != 0:
		err = c.symlink(src, dst, fi)
	case fi.IsDir():
		if err = os.Mkdir(dst, 0o700); err != nil {
			return fmt.Errorf("unable to create %s\n%w", dst, err)
		}
		c.rep.Dirs++
		entries, rerr := os.ReadDir(src)
		if rerr != nil {
			return fmt.Errorf("unable to read %s\n%w", src, rerr)
		}
		for _, e := range entries {
			if err := c.entry(filepath.Join(rel, e.Name())); err != nil {
				return err
			}
		}
		if err = os.Chmod(dst, fi.Mode().Perm()); err == nil {
			err = setTimes(dst, fi)
		}
	default:
		return fmt.Errorf("%s is a %s; a store path holds only files, directories and symlinks", src, fi.Mode().Type())
	}
	return err
}

func (c *copier) file(src, dst string, fi fs.FileInfo) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("unable to read %s\n%w", src, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("unable to create %s\n%w", dst, err)
	}
	n, err := c.rw.copy(out, in)
	if err == nil && filepath.Ext(dst) == ".pyc" {
		var fixed bool
		if fixed, err = fixPyc(out, src, c.p); fixed {
			rel, _ := filepath.Rel(c.dstRoot, dst)
			c.rep.PycFixed = append(c.rep.PycFixed, rel)
		}
	}
	if err == nil {
		err = out.Chmod(fi.Mode().Perm())
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("unable to copy %s to %s\n%w", src, dst, err)
	}
	c.rep.Files++
	c.rep.Bytes += fi.Size()
	if n > 0 {
		c.rep.Rewritten += n
		c.rep.RewrittenFiles++
	}
	return setTimes(dst, fi)
}

func (c *copier) symlink(src, dst string, fi fs.FileInfo) error {
	target, err := os.Readlink(src)
	if err != nil {
		return fmt.Errorf("unable to read %s\n%w", src, err)
	}
	if moved := c.p.SymlinkTarget(target); moved != target {
		c.rep.Rewritten++
		c.rep.RewrittenFiles++
		target = moved
	}
	if err := os.Symlink(target, dst); err != nil {
		return fmt.Errorf("unable to create %s\n%w", dst, err)
	}
	c.rep.Symlinks++
	return setTimes(dst, fi)
}

// setTimes gives dst the access and modification times of fi, without
// following a symlink.
func setTimes(dst string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	ts := []unix.Timespec{unix.NsecToTimespec(st.Atim.Nano()), unix.NsecToTimespec(st.Mtim.Nano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("unable to set the times of %s\n%w", dst, err)
	}
	return nil
}
