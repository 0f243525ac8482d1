// Package guard is the pruning guard: after the pruning step, it fails the
// build when the rules removed a path the app needs (runtime.json's
// workers, env and path name it) or one that a kept store path references,
// naming the rule (file:line) that removed it.
package guard

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/exclude"
	"github.com/nix-buildpack/nix-buildpack/internal/prune"
)

// Need is a store path, or a file inside one, that the app needs at run time.
type Need struct {
	Path string // "/nix/store/<hash>-name" or "/nix/store/<hash>-name/bin/web"
	By   string // who needs it, for the message: "runtime.json workers.web"
}

// Removal is a needed path that pruning left out.
type Removal struct {
	Need    Need
	Removed string        // the store form of what was left out: the path or a parent of it
	Rule    *exclude.Rule // the rule that left it out; nil when --prune-empty-dirs did, or it was never there
	Reason  string
}

// Error lists every needed path that pruning left out.
type Error struct {
	Removals []Removal
}

// Error names, for each removal, the rule (file:line), what it removed and
// what needed it.
func (e *Error) Error() string {
	lines := []string{"unable to prune the store: the rules remove paths the app needs"}
	for _, r := range e.Removals {
		lines = append(lines, "  "+r.Reason)
	}
	return strings.Join(lines, "\n")
}

// Guard checks a pruning: every needed path must be kept, and so must every
// store path that a kept store path references (refs maps a store path to
// the store paths it references, as the Nix database records them). A
// symlink on the way to a needed file is followed within the store. It
// returns a *Error naming the rule that removed each missing path.
func Guard(rep *prune.Report, needs []Need, refs map[string][]string) error {
	g := &guard{kept: map[string]*prune.Entry{}, dropped: map[string]*exclude.Rule{}, pruned: map[string]bool{}}
	for i := range rep.Kept {
		g.kept[rep.Kept[i].Path] = &rep.Kept[i]
	}
	for _, d := range rep.Dropped {
		g.dropped[d.Path] = d.Decision.Rule
	}
	for _, p := range rep.Pruned {
		g.pruned[p] = true
	}
	var removals []Removal
	for _, n := range needs {
		rel, err := prune.StoreRel(n.Path)
		if err != nil {
			return err
		}
		if r, ok := g.check(rel, n, 0); !ok {
			removals = append(removals, r)
		}
	}
	users := make([]string, 0, len(refs))
	for p := range refs {
		users = append(users, p)
	}
	sort.Strings(users)
	for _, user := range users {
		rel, err := prune.StoreRel(user)
		if err != nil {
			return err
		}
		if g.kept[rel] == nil {
			continue // a path that is gone needs nothing
		}
		for _, ref := range refs[user] {
			if ref == user {
				continue
			}
			refRel, err := prune.StoreRel(ref)
			if err != nil {
				return err
			}
			if r, ok := g.check(refRel, Need{Path: ref, By: user + ", which references it"}, 0); !ok {
				removals = append(removals, r)
			}
		}
	}
	if len(removals) > 0 {
		return &Error{Removals: removals}
	}
	return nil
}

type guard struct {
	kept    map[string]*prune.Entry
	dropped map[string]*exclude.Rule
	pruned  map[string]bool
}

// check finds whether rel is in the pruned tree, following kept symlinks on
// the way (up to a depth, as the kernel does).
func (g *guard) check(rel string, n Need, depth int) (Removal, bool) {
	if depth > 40 {
		return Removal{}, true // a symlink loop is not pruning's doing
	}
	for anc := rel; anc != "."; anc = path.Dir(anc) {
		e := g.kept[anc]
		if e == nil {
			continue
		}
		if e.Mode&fs.ModeSymlink == 0 {
			if anc == rel {
				return Removal{}, true
			}
			break // a kept directory or file above rel, but rel is not kept
		}
		target, ok := resolve(anc, e.Target)
		if !ok {
			return Removal{}, true // points outside the store: not ours to judge
		}
		return g.check(path.Join(target, strings.TrimPrefix(rel, anc)), n, depth+1)
	}
	for anc := rel; anc != "."; anc = path.Dir(anc) {
		if rule, ok := g.dropped[anc]; ok {
			return removal(n, anc, rule, ""), false
		}
	}
	for anc := rel; anc != "."; anc = path.Dir(anc) {
		if g.pruned[anc] {
			return removal(n, anc, nil, "--prune-empty-dirs removes the empty directory %s, needed by %s"), false
		}
	}
	return removal(n, rel, nil, "%s is not in the copied tree (not in the source store, nor in the selected closure), needed by %s"), false
}

// removal describes what removed a needed path: a rule, or else the format
// (what, needed by).
func removal(n Need, removed string, rule *exclude.Rule, format string) Removal {
	abs := path.Join(path.Dir(prune.StoreDir), removed)
	r := Removal{Need: n, Removed: abs, Rule: rule}
	what := abs
	if abs != path.Clean(n.Path) {
		what = fmt.Sprintf("%s (and with it %s)", abs, n.Path)
	}
	if rule == nil {
		r.Reason = fmt.Sprintf(format, what, n.By)
		return r
	}
	r.Reason = fmt.Sprintf("%s: rule %q removes %s, needed by %s; add a rule such as %q above line %d",
		rule.Where(), rule.Text(), what, n.By, "+ "+includeHint(removed), rule.Line)
	return r
}

// includeHint is a pattern keeping a removed store path whatever its hash:
// "store/*-libfoo-1.0/***".
func includeHint(rel string) string {
	parts := strings.SplitN(rel, "/", 3)
	if len(parts) >= 2 && parts[0] == "store" && len(parts[1]) > 33 {
		return "store/*" + parts[1][32:] + "/***"
	}
	return rel + "/***"
}

// resolve gives the rule-root path a symlink at rel points to, when that is
// inside the tree.
func resolve(rel, target string) (string, bool) {
	if path.IsAbs(target) {
		r, err := prune.StoreRel(target)
		return r, err == nil
	}
	p := path.Clean(path.Join(path.Dir(rel), target))
	return p, p != ".." && !strings.HasPrefix(p, "../")
}
