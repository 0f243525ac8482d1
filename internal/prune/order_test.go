package prune

import (
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/exclude"
)

// TestReportOrder checks the report's lists on random trees (names with
// bytes below and above '/', such as "k", "k-b", "k.c", "k/x"): Kept and
// Dropped are sorted by path, and Dropped is exactly what a plain walk
// finds excluded (nothing below an excluded directory), pruning or not.
func TestReportOrder(t *testing.T) {
	for seed := int64(300); seed < 330; seed++ {
		rng := rand.New(rand.NewSource(seed))
		src := filepath.Join(tempDir(t), "src")
		must(t, os.Mkdir(src, 0o755))
		g := makeTree(t, rng, src)
		for _, d := range []string{"k", "k-b", "k.c", "k!", "k0"} {
			must(t, os.MkdirAll(filepath.Join(src, d, "x"), 0o755))
			must(t, os.WriteFile(filepath.Join(src, d, "x", "f"), nil, 0o644))
			must(t, os.WriteFile(filepath.Join(src, d+"f"), nil, 0o644))
		}
		text := strings.Join(genRuleFile(rng, g.paths), "\n") + "\n"
		rules, err := exclude.ParseRules(strings.NewReader(text), "rules")
		if err != nil {
			t.Fatalf("seed %d: generated rules do not parse: %v", seed, err)
		}
		var want []string
		must(t, filepath.WalkDir(src, func(p string, de fs.DirEntry, err error) error {
			if err != nil || p == src {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			if !rules.Decide(rel, de.IsDir()).Keep {
				want = append(want, rel)
				if de.IsDir() {
					return filepath.SkipDir
				}
			}
			return nil
		}))
		slices.Sort(want)
		for _, prune := range []bool{false, true} {
			rep, err := Plan(src, rules, Options{PruneEmptyDirs: prune})
			must(t, err)
			kept := rep.KeptPaths()
			if !slices.IsSorted(kept) {
				t.Errorf("seed %d, prune %v: Kept not sorted: %q", seed, prune, kept)
			}
			var dropped []string
			for _, d := range rep.Dropped {
				dropped = append(dropped, d.Path)
			}
			if !slices.Equal(dropped, want) {
				t.Errorf("seed %d, prune %v, rules:\n%sDropped %q\nwant    %q", seed, prune, text, dropped, want)
			}
		}
	}
}
