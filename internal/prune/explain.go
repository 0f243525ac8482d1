package prune

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/exclude"
)

// Explanation says why one path is kept or not: the decision on the path and
// on each directory above it, from the top, and the verdict.
type Explanation struct {
	Path    string
	Steps   []Step // down to the path, or to the first parent that is not kept
	Kept    bool
	Verdict string
}

// Step is the decision on one path on the way down.
type Step struct {
	Path     string
	IsDir    bool
	Exists   bool
	Decision exclude.Decision
}

// Explain says which rule decides rel (relative to SRC; a trailing '/' says
// it is a directory when it does not exist), taking into account the parents
// rsync must descend through, Options.Selected, and Options.PruneEmptyDirs.
func Explain(src, rel string, rules *exclude.Rules, opts Options) (*Explanation, error) {
	isDirHint := strings.HasSuffix(rel, "/")
	clean := path.Clean("/" + filepath.ToSlash(rel))[1:]
	if clean == "" {
		return &Explanation{Path: ".", Kept: true, Verdict: ". is the root, which is always kept"}, nil
	}
	sel, err := newSelection(opts.Selected)
	if err != nil {
		return nil, err
	}
	ex := &Explanation{Path: clean}
	parts := strings.Split(clean, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		last := i == len(parts)-1
		if sel != nil {
			next, present := sel.child(parts[i])
			if !present {
				ex.Verdict = fmt.Sprintf("%s is left out: it is not one of the selected paths nor a parent of one", p)
				return ex, nil
			}
			sel = next
		}
		st, err := lookAt(src, p, !last || isDirHint, rules)
		if err != nil {
			return nil, err
		}
		ex.Steps = append(ex.Steps, st)
		if ex.Verdict = st.stop(clean, src, last); ex.Verdict != "" {
			return ex, nil
		}
	}
	final := ex.Steps[len(ex.Steps)-1]
	if final.IsDir && opts.PruneEmptyDirs {
		d, err := newScanner(rules, opts).scan(filepath.Join(src, filepath.FromSlash(clean)), clean, sel)
		if err != nil {
			return nil, err
		}
		if !d.hasNonDir {
			ex.Verdict = fmt.Sprintf("%s is %s, but pruned: --prune-empty-dirs drops it, as nothing but directories is kept below it", clean, final.Decision)
			return ex, nil
		}
	}
	ex.Kept = true
	ex.Verdict = fmt.Sprintf("%s is %s", clean, final.Decision)
	return ex, nil
}

// lookAt is the step on p (relative to src): whether it is there, and the
// rules' decision on it; isDir is what it is taken for when it is not.
func lookAt(src, p string, isDir bool, rules *exclude.Rules) (Step, error) {
	st := Step{Path: p, IsDir: isDir}
	fi, err := os.Lstat(filepath.Join(src, filepath.FromSlash(p)))
	switch {
	case err == nil:
		st.Exists, st.IsDir = true, fi.IsDir()
	case !errors.Is(err, fs.ErrNotExist):
		return Step{}, fmt.Errorf("unable to stat %s\n%w", filepath.Join(src, p), err)
	}
	st.Decision = rules.Decide(p, st.IsDir)
	return st, nil
}

// stop is the verdict on clean when the way down stops at st (last: st is
// clean itself): it is not kept, or it is missing. It is "" when the way
// goes on.
func (st Step) stop(clean, src string, last bool) string {
	switch {
	case !st.Decision.Keep && last:
		return fmt.Sprintf("%s is %s", clean, st.Decision)
	case !st.Decision.Keep:
		return fmt.Sprintf("%s is left out: its parent directory %s is %s, and nothing below an excluded directory is looked at", clean, st.Path, st.Decision)
	case !st.Exists && last:
		return fmt.Sprintf("%s is not in %s; if it were, it would be %s", clean, src, st.Decision)
	case !st.Exists:
		return fmt.Sprintf("%s is not in %s (%s is missing)", clean, src, st.Path)
	}
	return ""
}

// Lines is the explanation as log lines: one per step, then the verdict.
func (e *Explanation) Lines() []string {
	var out []string
	for _, s := range e.Steps {
		name := s.Path
		if s.IsDir {
			name += "/"
		}
		out = append(out, fmt.Sprintf("  %s: %s", name, s.Decision))
	}
	return append(out, e.Verdict)
}
