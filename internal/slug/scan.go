package slug

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"sync"
)

// scanner walks SRC as rsync's sender does: every entry of a directory is
// judged by the rules, and only kept directories are read. Directories are
// read by several goroutines at once.
type scanner struct {
	rules *Rules
	opts  Options
	slots chan struct{} // free goroutines for reading directories
	// create, when set, makes each kept entry in DST as soon as it is
	// judged, before a kept directory is read.
	create func(e *Entry) error
	// done, when set, is called on a kept directory once everything below
	// it was read (and created).
	done func(e *Entry) error

	mu   sync.Mutex // guards what follows
	hits []int
	rep  *Report
}

func newScanner(rules *Rules, opts Options) *scanner {
	s := &scanner{rules: rules, opts: opts, rep: &Report{}, slots: make(chan struct{}, 2*runtime.GOMAXPROCS(0))}
	if rules != nil {
		s.hits = make([]int, len(rules.list))
	}
	return s
}

// dirScan is what is kept in one directory: its entries, and the scans of the
// kept directories among them.
type dirScan struct {
	kept      []Entry
	subs      []*dirScan // nil where a kept entry is not a directory or was pruned
	hasNonDir bool       // something other than a directory is kept below
}

type pendingScan struct {
	at  int
	sub *dirScan
}

// flatten appends every kept entry of the subtree to out.
func (d *dirScan) flatten(out []Entry) []Entry {
	for i, e := range d.kept {
		out = append(out, e)
		if d.subs[i] != nil {
			out = d.subs[i].flatten(out)
		}
	}
	return out
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
	des, err := os.ReadDir(abs)
	if err != nil {
		return nil, fmt.Errorf("unable to read directory %s\n%w", abs, err)
	}
	sel.visit()
	d := &dirScan{}
	var (
		drops   []Drop
		hits    []int
		pending []*pendingScan
		wg      sync.WaitGroup
		errs    []error
		errMu   sync.Mutex
	)
	fail := func(err error) {
		errMu.Lock()
		errs = append(errs, err)
		errMu.Unlock()
	}
	for _, de := range des {
		name := de.Name()
		child, present := sel.child(name)
		if !present {
			continue
		}
		childRel := name
		if rel != "" {
			childRel = rel + "/" + name
		}
		childAbs := abs + "/" + name
		isDir := de.Type().IsDir()
		if child != nil && !child.all && !isDir {
			fail(fmt.Errorf("unable to select below %s: not a directory", childAbs))
			break
		}
		i := s.rules.index(childRel, isDir)
		dec := Decision{Keep: true}
		if i >= 0 {
			hits = append(hits, i)
			dec = Decision{Keep: s.rules.list[i].Include, Rule: s.rules.list[i]}
		}
		if !dec.Keep {
			drops = append(drops, Drop{Path: childRel, IsDir: isDir, Decision: dec})
			continue
		}
		e, err := entryOf(de, childAbs, childRel, dec)
		if err != nil {
			fail(err)
			break
		}
		if s.create != nil {
			if err := s.create(&e); err != nil {
				fail(err)
				break
			}
		}
		d.kept = append(d.kept, e)
		d.subs = append(d.subs, nil)
		if !e.Mode.IsDir() {
			d.hasNonDir = true
			continue
		}
		// d.subs may grow meanwhile: the scan lands in its own record.
		p := &pendingScan{at: len(d.subs) - 1}
		pending = append(pending, p)
		read := func() {
			sub, err := s.scan(childAbs, childRel, child)
			if err != nil {
				fail(err)
				return
			}
			p.sub = sub
			if s.done != nil {
				if err := s.done(&e); err != nil {
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
	for _, p := range pending {
		d.subs[p.at] = p.sub
	}
	s.mu.Lock()
	for _, i := range hits {
		s.hits[i]++
	}
	s.rep.Dropped = append(s.rep.Dropped, drops...)
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

// entryOf stats a kept entry (and reads a symlink's target).
func entryOf(de fs.DirEntry, abs, rel string, dec Decision) (Entry, error) {
	fi, err := de.Info()
	if err != nil {
		return Entry{}, fmt.Errorf("unable to stat %s\n%w", abs, err)
	}
	e := Entry{Path: rel, Mode: fi.Mode(), Decision: dec, meta: metaOf(fi)}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		if e.Target, err = os.Readlink(abs); err != nil {
			return Entry{}, fmt.Errorf("unable to read symlink %s\n%w", abs, err)
		}
		e.Size = fi.Size()
	case !fi.IsDir():
		e.Size = fi.Size()
	}
	return e, nil
}
