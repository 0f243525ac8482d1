package guard

import (
	"errors"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/exclude"
	"github.com/nix-buildpack/nix-buildpack/internal/prune"
	"github.com/nix-buildpack/nix-buildpack/internal/prune/prunetest"
)

func TestGuard(t *testing.T) {
	src := prunetest.Store(t)
	refs := map[string][]string{
		prunetest.Abs(prunetest.App):     {prunetest.Abs(prunetest.App), prunetest.Abs(prunetest.Glibc), prunetest.Abs(prunetest.Openssl), prunetest.Abs(prunetest.Bash)},
		prunetest.Abs(prunetest.Openssl): {prunetest.Abs(prunetest.Glibc)},
		prunetest.Abs(prunetest.Libfoo):  {prunetest.Abs(prunetest.Glibc)},
	}
	worker := []Need{{Path: prunetest.Abs(prunetest.UserEnv) + "/bin/web", By: "runtime.json workers.web"}}
	tests := []struct {
		name     string
		rules    string
		opts     prune.Options
		needs    []Need
		refs     map[string][]string
		err      []string // every string must be in the error
		removals int
	}{
		{name: "example keeps what is needed", rules: prunetest.ExampleRules, needs: worker, refs: refs},
		{name: "no rules", rules: "", needs: worker, refs: refs},
		{
			name:  "rule removes a referenced library",
			rules: "+ *.so*\n- store/*-openssl-*\n",
			needs: worker, refs: refs, removals: 1,
			err: []string{
				`.slugexclude:2: rule "- store/*-openssl-*" removes ` + prunetest.Abs(prunetest.Openssl),
				"needed by " + prunetest.Abs(prunetest.App) + ", which references it",
				`add a rule such as "+ store/*-openssl-3.0.9/***" above line 2`,
			},
		},
		{
			name:  "a removed path's own references do not count",
			rules: "- store/*-libfoo-*\n- store/*-glibc-*\n",
			refs:  map[string][]string{prunetest.Abs(prunetest.Libfoo): {prunetest.Abs(prunetest.Glibc)}},
		},
		{
			name:  "needed file behind a symlink",
			rules: prunetest.ExampleRules + "", needs: []Need{{Path: prunetest.Abs(prunetest.UserEnv) + "/bin/python3", By: "runtime.json path"}},
			removals: 1,
			err: []string{
				`.slugexclude:6: rule "- store/**" removes ` + prunetest.Abs(prunetest.Python) + "/bin/python3 (and with it " + prunetest.Abs(prunetest.UserEnv) + "/bin/python3)",
				"needed by runtime.json path",
			},
		},
		{
			name:  "excluded parent directory",
			rules: "- store/*-my-awesome-app-1.0/bin/\n", needs: worker, removals: 1,
			err: []string{`.slugexclude:1: rule "- store/*-my-awesome-app-1.0/bin/" removes ` + prunetest.Abs(prunetest.App) + "/bin (and with it"},
		},
		{
			name:  "every removal is listed",
			rules: "- store/*-bash-*\n- store/*-glibc-*\n", needs: worker, refs: refs, removals: 4,
			err: []string{".slugexclude:1:", ".slugexclude:2:"},
		},
		{
			name:  "not in the selected closure",
			rules: "", opts: prune.Options{Selected: []string{prunetest.App, prunetest.UserEnv, prunetest.Glibc, prunetest.Openssl}},
			needs: worker, refs: refs, removals: 1,
			err: []string{prunetest.Abs(prunetest.Bash) + " is not in the copied tree", "needed by " + prunetest.Abs(prunetest.App)},
		},
		{
			name:  "pruned empty store path",
			rules: "+ */\n- *\n", opts: prune.Options{PruneEmptyDirs: true},
			needs: []Need{{Path: prunetest.Abs(prunetest.Libfoo), By: "runtime.json env LIBFOO"}}, removals: 1,
			err: []string{"--prune-empty-dirs removes the empty directory " + prunetest.Abs(prunetest.Libfoo) + ", needed by runtime.json env LIBFOO"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := prune.Plan(src, parse(t, tt.rules), tt.opts)
			must(t, err)
			err = Guard(rep, tt.needs, tt.refs)
			if tt.removals == 0 {
				if err != nil {
					t.Fatalf("Guard: %v", err)
				}
				return
			}
			var ge *Error
			if !errors.As(err, &ge) {
				t.Fatalf("Guard err = %v, want a *Error", err)
			}
			if len(ge.Removals) != tt.removals {
				t.Errorf("%d removals, want %d:\n%v", len(ge.Removals), tt.removals, err)
			}
			for _, want := range tt.err {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestGuardRejectsNonStorePaths(t *testing.T) {
	rep := &prune.Report{}
	if err := Guard(rep, []Need{{Path: "/usr/bin/env", By: "x"}}, nil); err == nil || !strings.Contains(err.Error(), "/usr/bin/env") {
		t.Errorf("err = %v", err)
	}
	if err := Guard(rep, nil, map[string][]string{"/nix/store/bad": nil}); err == nil {
		t.Error("bad reference key accepted")
	}
}

func parse(t *testing.T, text string) *exclude.Rules {
	t.Helper()
	rs, err := exclude.ParseRules(strings.NewReader(text), ".slugexclude")
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
