package prune

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"syscall"

	"github.com/nix-buildpack/nix-buildpack/internal/exclude"

	"golang.org/x/sys/unix"
)

// Options says how Plan, Copy and Explain walk SRC.
type Options struct {
	// PruneEmptyDirs drops every directory below the root that holds no
	// file, symlink or special file at any depth, as `rsync -m` does.
	PruneEmptyDirs bool
	// Link hard-links files, symlinks and special files to their source
	// instead of copying them (Copy only). Where a link fails because the
	// two trees are on different filesystems (EXDEV), or the link is refused
	// (EPERM, EMLINK), the file is copied.
	Link bool
	// Selected, when not empty, restricts SRC to these paths, relative to
	// SRC ("store/<hash>-name"): every other entry of their parent
	// directories, and of the parents' parents, is treated as absent, as if
	// SRC held only the selected paths. The rules still apply to all of them.
	Selected []string
	// Workers is how many entries Copy creates at once; 0 picks a default
	// (four per CPU: creating files mostly waits on the filesystem).
	Workers int
}

// Entry is one path that the rules keep.
type Entry struct {
	Path     string           // relative to SRC, '/'-separated
	Mode     fs.FileMode      // type and permission bits, from lstat
	Size     int64            // apparent size: a file's bytes, a symlink's target length, 0 for a directory
	Target   string           // a symlink's target
	Decision exclude.Decision // the rule that kept it, or the default
	meta     meta
}

// meta is what `rsync -a` carries over besides names, modes and contents.
type meta struct {
	uid, gid uint32
	rawMode  uint32
	rdev     uint64
	mtime    syscall.Timespec
}

// Drop is a path that a rule excludes. Nothing below an excluded directory is
// looked at, so nothing below it is listed.
type Drop struct {
	Path     string
	IsDir    bool
	Decision exclude.Decision
}

// Report is what a Plan or Copy kept and left out.
type Report struct {
	Kept     []Entry           // sorted by Path; the root itself is not listed
	Dropped  []Drop            // sorted by Path
	Pruned   []string          // empty directories dropped by PruneEmptyDirs, sorted
	Warnings []exclude.Warning // rules that decided nothing in this tree
	Linked   int               // files Copy hard-linked
	Copied   int               // files Copy copied
	Bytes    int64             // bytes Copy copied (not linked)
	root     meta
	rootMode fs.FileMode
}

// KeptPaths is the kept paths, sorted, as `--dry-run` prints them.
func (r *Report) KeptPaths() []string {
	out := make([]string, len(r.Kept))
	for i, e := range r.Kept {
		out[i] = e.Path
	}
	return out
}

// Plan walks SRC and applies the rules as `rsync -a --exclude-from` does,
// without writing anything: the report lists what Copy would create.
func Plan(src string, rules *exclude.Rules, opts Options) (*Report, error) {
	return plan(src, rules, opts, nil)
}

// plan is Plan; with a copier, each kept entry is also created in DST as
// soon as it is judged, a directory before anything below it is read.
func plan(src string, rules *exclude.Rules, opts Options, c *copier) (*Report, error) {
	sel, err := newSelection(opts.Selected)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("unable to read source %s\n%w", src, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("unable to prune %s: not a directory", src)
	}
	s := newScanner(rules, opts)
	var dst *destDir
	if c != nil {
		if err := c.prepare(); err != nil {
			return nil, err
		}
		dst = &destDir{parent: unix.AT_FDCWD, name: c.dst, fd: -1}
		defer dst.close()
		s.create, s.done, s.slots = c.createAt, c.finishAt, make(chan struct{}, c.workers()-1)
	}
	s.rep.root, s.rep.rootMode = metaOf(fi), fi.Mode()
	top, err := s.scanAt(unix.AT_FDCWD, src, src, "", sel, dst)
	if err != nil {
		return nil, err
	}
	if err := sel.check(""); err != nil {
		return nil, err
	}
	s.rep.Kept, s.rep.Dropped = top.order(make([]Entry, 0, s.kept), make([]Drop, 0, s.dropped), true)
	sort.Strings(s.rep.Pruned)
	for i, n := range s.hits {
		if n == 0 {
			r := s.list[i]
			s.rep.Warnings = append(s.rep.Warnings, exclude.Warning{File: r.File, Line: r.Line, Message: fmt.Sprintf(
				"rule %q decided nothing in %s: no path matches it, or an earlier rule always matches first", r.Text(), src)})
		}
	}
	return s.rep, nil
}

func metaOf(fi fs.FileInfo) meta {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return meta{}
	}
	return meta{uid: st.Uid, gid: st.Gid, rawMode: st.Mode, rdev: st.Rdev, mtime: st.Mtim}
}

// selection is a trie of Options.Selected: a node with all set holds its
// whole subtree; other nodes hold only the children listed.
type selection struct {
	all      bool
	children map[string]*selection
	visited  bool // its directory was read
	found    bool // it was seen in its parent directory
}

func newSelection(paths []string) (*selection, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	root := &selection{children: map[string]*selection{}}
	for _, p := range paths {
		clean := path.Clean(p)
		if p == "" || clean == "." || path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			return nil, fmt.Errorf("unable to select %q: not a path inside the source (write it relative, like store/<hash>-name)", p)
		}
		n := root
		for _, part := range strings.Split(clean, "/") {
			if n.all {
				break
			}
			c := n.children[part]
			if c == nil {
				c = &selection{children: map[string]*selection{}}
				n.children[part] = c
			}
			n = c
		}
		n.all, n.children = true, nil
	}
	return root, nil
}

// child says whether name is present under the selection, and its own
// selection (nil when its whole subtree is present).
func (s *selection) child(name string) (*selection, bool) {
	if s == nil || s.all {
		return nil, true
	}
	c := s.children[name]
	if c == nil {
		return nil, false
	}
	c.found = true
	if c.all {
		return nil, true
	}
	return c, true
}

func (s *selection) visit() {
	if s != nil {
		s.visited = true
	}
}

// check reports a selected path missing from a directory that was read.
func (s *selection) check(rel string) error {
	if s == nil {
		return nil
	}
	for name, c := range s.children {
		p := path.Join(rel, name)
		if s.visited && !c.found {
			return fmt.Errorf("unable to select %s: it is not in the source", p)
		}
		if err := c.check(p); err != nil {
			return err
		}
	}
	return nil
}
