package prune

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/nix-buildpack/nix-buildpack/internal/exclude"
	"github.com/nix-buildpack/nix-buildpack/internal/prune/dirfd"

	"golang.org/x/sys/unix"
)

// scanner walks SRC as rsync's sender does: every entry of a directory is
// judged by the rules, and only kept directories are read. Directories are
// read by several goroutines at once.
type scanner struct {
	rules *exclude.Rules
	opts  Options
	slots chan struct{} // free goroutines for reading directories
	// create, when set, makes each kept entry in DST as soon as it is
	// judged, before a kept directory is read: name of the directory src
	// in the directory dst of DST. For a directory it returns the one it
	// made.
	create func(e *Entry, src int, dst *destDir, name string) (*destDir, error)
	// done, when set, is called on a kept directory once everything below
	// it was read (and created), with the directory made for it.
	done func(e *Entry, dir *destDir) error

	mu      sync.Mutex // guards what follows
	hits    []int
	list    []*exclude.Rule // the rules, in order
	kept    int             // entries kept in the directories read
	dropped int             // entries dropped there
	rep     *Report
}

func newScanner(rules *exclude.Rules, opts Options) *scanner {
	s := &scanner{rules: rules, opts: opts, rep: &Report{}, slots: make(chan struct{}, 2*runtime.GOMAXPROCS(0))}
	s.list = rules.List()
	s.hits = make([]int, len(s.list))
	return s
}

// dirScan is what is kept in one directory: its entries, and the scans of the
// kept directories among them.
type dirScan struct {
	kept      []Entry
	subs      []*dirScan // nil where a kept entry is not a directory or was pruned
	drops     []Drop     // what the rules excluded here
	gone      []*dirScan // the scans of directories PruneEmptyDirs dropped, for their drops
	goneNames []string
	hasNonDir bool // something other than a directory is kept below
}

// order appends the kept entries (when withKept) and the dropped ones of the
// subtree to kept and dropped, sorted by path. Only the names of one
// directory are sorted: a subdirectory's entries come together, where its
// name followed by '/' sorts among its siblings ("a", "a-b", "a/c").
func (d *dirScan) order(kept []Entry, dropped []Drop, withKept bool) ([]Entry, []Drop) {
	const (
		keptEntry = iota
		dropEntry
		keptTree   // a kept directory's subtree
		prunedTree // a pruned directory's subtree, for its drops
	)
	type item struct {
		key  string
		kind uint8
		i    int
	}
	items := make([]item, 0, len(d.kept)+len(d.drops)+len(d.gone))
	for i, e := range d.kept {
		name := e.Path[strings.LastIndexByte(e.Path, '/')+1:]
		if withKept {
			items = append(items, item{name, keptEntry, i})
		}
		if d.subs[i] != nil {
			items = append(items, item{name + "/", keptTree, i})
		}
	}
	for i, dr := range d.drops {
		items = append(items, item{dr.Path[strings.LastIndexByte(dr.Path, '/')+1:], dropEntry, i})
	}
	for i, name := range d.goneNames {
		items = append(items, item{name + "/", prunedTree, i})
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.key, b.key) })
	for _, it := range items {
		switch it.kind {
		case keptEntry:
			kept = append(kept, d.kept[it.i])
		case dropEntry:
			dropped = append(dropped, d.drops[it.i])
		case keptTree:
			kept, dropped = d.subs[it.i].order(kept, dropped, withKept)
		case prunedTree:
			kept, dropped = d.gone[it.i].order(kept, dropped, false)
		}
	}
	return kept, dropped
}

func (d *dirScan) paths(out []string) []string {
	for i, e := range d.kept {
		out = append(out, e.Path)
		if d.subs[i] != nil {
			out = d.subs[i].paths(out)
		}
	}
	return out
}

// scan reads the directory abs (rel under the root) and, below it, the kept
// directories. With PruneEmptyDirs, kept directories with nothing but
// directories below them are dropped, as `rsync -m` does.
func (s *scanner) scan(abs, rel string, sel *selection) (*dirScan, error) {
	return s.scanAt(unix.AT_FDCWD, abs, abs, rel, sel, nil)
}

// scanAt is scan of the directory name in the directory at (abs is its
// path, for messages); dst is its directory in DST when entries are
// created while reading, or nil. Only a directory named by its
// path (at is unix.AT_FDCWD) may be reached through a symlink.
func (s *scanner) scanAt(at int, name, abs, rel string, sel *selection, dst *destDir) (*dirScan, error) {
	fd, des, err := readDir(at, name, abs)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	sel.visit()
	// Sized for every entry, so that an entry keeps its address while the
	// scans below it run.
	w := &dirWalk{s: s, fd: fd, abs: abs, rel: rel, dst: dst, kept: make([]Entry, len(des)), subs: make([]*dirScan, len(des))}
	for _, de := range des {
		if !w.entry(de, sel) {
			break
		}
	}
	w.wg.Wait()
	if len(w.errs) > 0 {
		return nil, errors.Join(w.errs...)
	}
	d := w.result()
	s.prune(d)
	return d, nil
}

// readDir opens the directory name (relative to at) and reads its entries.
func readDir(at int, name, abs string) (int, []dirfd.Dirent, error) {
	fd, err := dirfd.Open(at, name, at == unix.AT_FDCWD)
	if err != nil {
		return -1, nil, fmt.Errorf("unable to read directory %s\n%w", abs, err)
	}
	des, err := dirfd.ReadDir(fd)
	if err != nil {
		unix.Close(fd)
		return -1, nil, fmt.Errorf("unable to read directory %s\n%w", abs, err)
	}
	return fd, des, nil
}

// entryAt stats the kept entry name of the directory at (and reads a
// symlink's target); dir is the directory's path, for messages.
func entryAt(at int, name, dir, rel string, dec exclude.Decision) (Entry, error) {
	st, err := dirfd.Lstat(at, name)
	if err != nil {
		return Entry{}, fmt.Errorf("unable to stat %s/%s\n%w", dir, name, err)
	}
	e := Entry{Path: rel, Mode: dirfd.Mode(st.Mode), Decision: dec, meta: meta{
		uid: st.Uid, gid: st.Gid, rawMode: st.Mode, rdev: st.Rdev,
		mtime: syscall.Timespec{Sec: st.Mtim.Sec, Nsec: st.Mtim.Nsec},
	}}
	switch {
	case e.Mode&fs.ModeSymlink != 0:
		if e.Target, err = dirfd.Readlink(at, name, st.Size); err != nil {
			return Entry{}, fmt.Errorf("unable to read symlink %s/%s\n%w", dir, name, err)
		}
		e.Size = st.Size
	case !e.Mode.IsDir():
		e.Size = st.Size
	}
	return e, nil
}

// dirWalk is the scan of one directory: its entries are judged in order,
// and its subdirectories scanned, some at once on other goroutines.
type dirWalk struct {
	s        *scanner
	fd       int
	abs, rel string
	dst      *destDir

	kept  []Entry
	subs  []*dirScan
	n     int // entries kept so far
	drops []Drop
	hits  []int
	wg    sync.WaitGroup
	errMu sync.Mutex
	errs  []error
}

func (w *dirWalk) fail(err error) {
	w.errMu.Lock()
	w.errs = append(w.errs, err)
	w.errMu.Unlock()
}

// entry judges one entry of the directory: dropped by a rule, or kept (and
// created in the destination, and scanned when a directory). It returns
// false when the scan must stop.
func (w *dirWalk) entry(de dirfd.Dirent, sel *selection) bool {
	name := de.Name
	child, present := sel.child(name)
	if !present {
		return true
	}
	childRel := name
	if w.rel != "" {
		childRel = w.rel + "/" + name
	}
	isDir := de.Type == unix.DT_DIR
	if de.Type == unix.DT_UNKNOWN {
		// The filesystem does not say: ask (a failure shows in entryAt).
		st, err := dirfd.Lstat(w.fd, name)
		isDir = err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
	}
	if child != nil && !child.all && !isDir {
		w.fail(fmt.Errorf("unable to select below %s/%s: not a directory", w.abs, name))
		return false
	}
	dec := w.decide(childRel, isDir)
	if !dec.Keep {
		w.drops = append(w.drops, Drop{Path: childRel, IsDir: isDir, Decision: dec})
		return true
	}
	e, k := &w.kept[w.n], w.n
	var err error
	if *e, err = entryAt(w.fd, name, w.abs, childRel, dec); err != nil {
		w.fail(err)
		return false
	}
	var childDst *destDir
	if w.s.create != nil {
		if childDst, err = w.s.create(e, w.fd, w.dst, name); err != nil {
			w.fail(err)
			return false
		}
	}
	w.n++
	if e.Mode.IsDir() {
		w.descend(e, k, name, childRel, child, childDst)
	}
	return true
}

// decide applies the rules to one entry, counting the rule that decided.
func (w *dirWalk) decide(rel string, isDir bool) exclude.Decision {
	i := w.s.rules.Match(rel, isDir)
	if i < 0 {
		return exclude.Decision{Keep: true}
	}
	w.hits = append(w.hits, i)
	return exclude.Decision{Keep: w.s.list[i].Include, Rule: w.s.list[i]}
}

// descend scans the kept directory e (the k-th kept entry), on another
// goroutine when a slot is free.
func (w *dirWalk) descend(e *Entry, k int, name, rel string, sel *selection, dst *destDir) {
	read := func() {
		if dst != nil {
			defer dst.close()
		}
		sub, err := w.s.scanAt(w.fd, name, w.abs+"/"+name, rel, sel, dst)
		if err != nil {
			w.fail(err)
			return
		}
		w.subs[k] = sub
		if w.s.done != nil {
			if err := w.s.done(e, dst); err != nil {
				w.fail(err)
			}
		}
	}
	select {
	case w.s.slots <- struct{}{}:
		w.wg.Add(1)
		go func() {
			defer func() { <-w.s.slots; w.wg.Done() }()
			read()
		}()
	default:
		read()
	}
}

// result is the directory's scan, its counts added to the scanner's.
func (w *dirWalk) result() *dirScan {
	d := &dirScan{kept: w.kept[:w.n:w.n], subs: w.subs[:w.n:w.n], drops: w.drops}
	for _, e := range d.kept {
		if !e.Mode.IsDir() {
			d.hasNonDir = true
			break
		}
	}
	s := w.s
	s.mu.Lock()
	for _, i := range w.hits {
		s.hits[i]++
	}
	s.dropped += len(w.drops)
	s.kept += w.n
	s.mu.Unlock()
	return d
}

// prune drops the kept directories of d that hold nothing but directories,
// when asked to, and notes whether d holds anything else.
func (s *scanner) prune(d *dirScan) {
	n := 0
	for i, e := range d.kept {
		sub := d.subs[i]
		if sub != nil && !sub.hasNonDir && s.opts.PruneEmptyDirs {
			pruned := sub.paths([]string{e.Path})
			s.mu.Lock()
			s.rep.Pruned = append(s.rep.Pruned, pruned...)
			s.mu.Unlock()
			d.gone, d.goneNames = append(d.gone, sub), append(d.goneNames, e.Path[strings.LastIndexByte(e.Path, '/')+1:])
			continue
		}
		if sub != nil && sub.hasNonDir {
			d.hasNonDir = true
		}
		d.kept[n], d.subs[n] = e, sub
		n++
	}
	d.kept, d.subs = d.kept[:n], d.subs[:n]
}
