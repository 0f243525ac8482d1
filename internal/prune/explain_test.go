package prune

import (
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/exclude"
)

func TestExplain(t *testing.T) {
	src := makeStore(t)
	example := parse(t, exampleRules)
	tests := []struct {
		name  string
		rules *exclude.Rules
		opts  Options
		path  string
		kept  bool
		want  string
	}{
		{name: "include rule", rules: example, path: hApp + "/bin/web", kept: true,
			want: hApp + "/bin/web is kept by .slugexclude:5: + store/*my-awesome-app*/**"},
		{name: "exclude rule", rules: example, path: hGlibc + "/include/stdio.h",
			want: hGlibc + "/include/stdio.h is dropped by .slugexclude:6: - store/**"},
		{name: "library rule", rules: example, path: hGlibc + "/lib/libc.so.6", kept: true,
			want: "kept by .slugexclude:4: + *[._]so*"},
		{name: "default", rules: example, path: "var/nix/db/db.sqlite", kept: true,
			want: "var/nix/db/db.sqlite is kept by default (no rule matched)"},
		{name: "leading ./ and slash", rules: example, path: "./var/nix/", kept: true,
			want: "var/nix is kept by default"},
		{name: "excluded parent", rules: parse(t, "- store/*-glibc-*/\n"), path: hGlibc + "/lib/libc.so.6",
			want: "its parent directory " + hGlibc + " is dropped by .slugexclude:1: - store/*-glibc-*/, and nothing below an excluded directory is looked at"},
		{name: "missing path", rules: example, path: hApp + "/bin/nope",
			want: "is not in " + src + "; if it were, it would be kept by .slugexclude:5"},
		{name: "missing parent", rules: example, path: "nope/x",
			want: "nope/x is not in " + src + " (nope is missing)"},
		{name: "pruned", rules: example, opts: Options{PruneEmptyDirs: true}, path: hLibfoo,
			want: "kept by .slugexclude:1: + store/**/, but pruned: --prune-empty-dirs drops it"},
		{name: "not pruned", rules: example, opts: Options{PruneEmptyDirs: true}, path: hGlibc + "/lib", kept: true,
			want: "kept by .slugexclude:1: + store/**/"},
		{name: "not selected", rules: example, opts: Options{Selected: []string{hApp}}, path: hGlibc + "/lib",
			want: hGlibc + " is left out: it is not one of the selected paths"},
		{name: "selected", rules: example, opts: Options{Selected: []string{hApp}}, path: hApp + "/bin/web", kept: true,
			want: "kept by .slugexclude:5"},
		{name: "root", rules: example, path: "/", kept: true, want: ". is the root"},
		{name: "no rules", rules: nil, path: hGlibc, kept: true, want: "kept by default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex, err := Explain(src, tt.path, tt.rules, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if ex.Kept != tt.kept || !strings.Contains(ex.Verdict, tt.want) {
				t.Errorf("Explain(%q) = kept %v, %q; want kept %v, %q", tt.path, ex.Kept, ex.Verdict, tt.kept, tt.want)
			}
			lines := ex.Lines()
			if lines[len(lines)-1] != ex.Verdict || len(lines) != len(ex.Steps)+1 {
				t.Errorf("Lines() = %q", lines)
			}
		})
	}
}

func TestExplainAgreesWithPlan(t *testing.T) {
	src := makeStore(t)
	for _, opts := range []Options{{}, {PruneEmptyDirs: true}, {Selected: []string{hApp, hGlibc}}} {
		rules := parse(t, exampleRules)
		rep, err := Plan(src, rules, opts)
		must(t, err)
		kept := map[string]bool{}
		for _, p := range rep.KeptPaths() {
			kept[p] = true
		}
		all := append(rep.KeptPaths(), rep.Pruned...)
		for _, d := range rep.Dropped {
			all = append(all, d.Path)
		}
		for _, p := range all {
			ex, err := Explain(src, p, rules, opts)
			must(t, err)
			if ex.Kept != kept[p] {
				t.Errorf("%+v: Explain(%q) kept=%v (%s), Plan kept=%v", opts, p, ex.Kept, ex.Verdict, kept[p])
			}
		}
	}
}
