package prune

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/nix-buildpack/nix-buildpack/internal/exclude"

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
	fd, err := openDir(at, name, at == unix.AT_FDCWD)
	if err == nil {
		defer unix.Close(fd)
	}
	var des []dirent
	if err == nil {
		des, err = readDirents(fd)
	}
	if err != nil {
		return nil, fmt.Errorf("unable to read directory %s\n%w", abs, err)
	}
	sel.visit()
	// Sized for every entry, so that an entry keeps its address while the
	// scans below it run.
	kept, subs := make([]Entry, len(des)), make([]*dirScan, len(des))
	n := 0
	var (
		drops []Drop
		hits  []int
		wg    sync.WaitGroup
		errs  []error
		errMu sync.Mutex
	)
	fail := func(err error) {
		errMu.Lock()
		errs = append(errs, err)
		errMu.Unlock()
	}
	for _, de := range des {
		name := de.name
		child, present := sel.child(name)
		if !present {
			continue
		}
		childRel := name
		if rel != "" {
			childRel = rel + "/" + name
		}
		isDir := de.typ == unix.DT_DIR
		if de.typ == unix.DT_UNKNOWN {
			// The filesystem does not say: ask (a failure shows in entryAt).
			st, err := statAt(fd, name)
			isDir = err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
		}
		if child != nil && !child.all && !isDir {
			fail(fmt.Errorf("unable to select below %s/%s: not a directory", abs, name))
			break
		}
		i := s.rules.Match(childRel, isDir)
		dec := exclude.Decision{Keep: true}
		if i >= 0 {
			hits = append(hits, i)
			dec = exclude.Decision{Keep: s.list[i].Include, Rule: s.list[i]}
		}
		if !dec.Keep {
			drops = append(drops, Drop{Path: childRel, IsDir: isDir, Decision: dec})
			continue
		}
		e, k := &kept[n], n
		var err error
		if *e, err = entryAt(fd, name, abs, childRel, dec); err != nil {
			fail(err)
			break
		}
		var childDst *destDir
		if s.create != nil {
			if childDst, err = s.create(e, fd, dst, name); err != nil {
				fail(err)
				break
			}
		}
		n++
		if !e.Mode.IsDir() {
			continue
		}
		read := func() {
			if childDst != nil {
				defer childDst.close()
			}
			sub, err := s.scanAt(fd, name, abs+"/"+name, childRel, child, childDst)
			if err != nil {
				fail(err)
				return
			}
			subs[k] = sub
			if s.done != nil {
				if err := s.done(e, childDst); err != nil {
					fail(err)
				}
			}
		}
		select {
		case s.slots <- struct{}{}:
			wg.Add(1)
			go func() {
				defer func() { <-s.slots; wg.Done() }()
				read()
			}()
		default:
			read()
		}
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	d := &dirScan{kept: kept[:n:n], subs: subs[:n:n], drops: drops}
	for _, e := range d.kept {
		if !e.Mode.IsDir() {
			d.hasNonDir = true
			break
		}
	}
	s.mu.Lock()
	for _, i := range hits {
		s.hits[i]++
	}
	s.dropped += len(drops)
	s.kept += n
	s.mu.Unlock()
	s.prune(d)
	return d, nil
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
