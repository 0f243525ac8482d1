package prune_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/exclude"

	"github.com/nix-buildpack/nix-buildpack/internal/prune"
)

// TestManyUnusedRulesSummarized: a rule file of thousands of rules that
// match nothing gives ten warning lines and one that counts the rest.
func TestManyUnusedRulesSummarized(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "store", "aaa-x"), 0o755); err != nil {
		t.Fatal(err)
	}
	var rules strings.Builder
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&rules, "- store/nothing-%d/**\n", i)
	}
	rs, err := exclude.ParseRules(strings.NewReader(rules.String()), ".slugexclude")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := prune.Copy(src, filepath.Join(t.TempDir(), "dst"), rs, prune.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Warnings) != 5000 {
		t.Fatalf("%d warnings, want 5000", len(rep.Warnings))
	}
	lines := exclude.Summarize(rep.Warnings)
	if len(lines) != exclude.MaxWarnings+1 || !strings.HasPrefix(lines[0], ".slugexclude:1: rule") ||
		!strings.Contains(lines[exclude.MaxWarnings], "... and 4990 more warnings (.slugexclude:11 to .slugexclude:5000)") {
		t.Fatalf("summary:\n%s", strings.Join(lines, "\n"))
	}
	if got := exclude.Summarize(rep.Warnings[:3]); len(got) != 3 {
		t.Fatalf("three warnings summarized as %q", got)
	}
}
