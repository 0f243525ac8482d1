package prune

import (
	"errors"
	"strings"
	"testing"
)

func TestStoreRel(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: abs(hApp), want: hApp},
		{in: abs(hApp) + "/bin/web", want: hApp + "/bin/web"},
		{in: abs(hApp) + "/bin/", want: hApp + "/bin"},
		{in: "/usr/bin/env", err: "not a path under /nix/store"},
		{in: "/nix/store", err: "not a path under /nix/store"},
		{in: "/nix/store/short-name", err: "is not a store path name"},
		{in: "/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-e", err: "is not a store path name"}, // 'e' is not nixbase32
		{in: "/nix/store/0a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r", err: "is not a store path name"},
		{in: "/nix/store/0a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-", err: "is not a store path name"},
	}
	for _, tt := range tests {
		got, err := StoreRel(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("StoreRel(%q) err = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("StoreRel(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestGuard(t *testing.T) {
	src := makeStore(t)
	refs := map[string][]string{
		abs(hApp):     {abs(hApp), abs(hGlibc), abs(hOpenssl), abs(hBash)},
		abs(hOpenssl): {abs(hGlibc)},
		abs(hLibfoo):  {abs(hGlibc)},
	}
	worker := []Need{{Path: abs(hUserEnv) + "/bin/web", By: "runtime.json workers.web"}}
	tests := []struct {
		name     string
		rules    string
		opts     Options
		needs    []Need
		refs     map[string][]string
		err      []string // every string must be in the error
		removals int
	}{
		{name: "example keeps what is needed", rules: exampleRules, needs: worker, refs: refs},
		{name: "no rules", rules: "", needs: worker, refs: refs},
		{
			name:  "rule removes a referenced library",
			rules: "+ *.so*\n- store/*-openssl-*\n",
			needs: worker, refs: refs, removals: 1,
			err: []string{
				`.slugexclude:2: rule "- store/*-openssl-*" removes ` + abs(hOpenssl),
				"needed by " + abs(hApp) + ", which references it",
				`add a rule such as "+ store/*-openssl-3.0.9/***" above line 2`,
			},
		},
		{
			name:  "a removed path's own references do not count",
			rules: "- store/*-libfoo-*\n- store/*-glibc-*\n",
			refs:  map[string][]string{abs(hLibfoo): {abs(hGlibc)}},
		},
		{
			name:  "needed file behind a symlink",
			rules: exampleRules + "", needs: []Need{{Path: abs(hUserEnv) + "/bin/python3", By: "runtime.json path"}},
			removals: 1,
			err: []string{
				`.slugexclude:6: rule "- store/**" removes ` + abs(hPython) + "/bin/python3 (and with it " + abs(hUserEnv) + "/bin/python3)",
				"needed by runtime.json path",
			},
		},
		{
			name:  "excluded parent directory",
			rules: "- store/*-my-awesome-app-1.0/bin/\n", needs: worker, removals: 1,
			err: []string{`.slugexclude:1: rule "- store/*-my-awesome-app-1.0/bin/" removes ` + abs(hApp) + "/bin (and with it"},
		},
		{
			name:  "every removal is listed",
			rules: "- store/*-bash-*\n- store/*-glibc-*\n", needs: worker, refs: refs, removals: 4,
			err: []string{".slugexclude:1:", ".slugexclude:2:"},
		},
		{
			name:  "not in the selected closure",
			rules: "", opts: Options{Selected: []string{hApp, hUserEnv, hGlibc, hOpenssl}},
			needs: worker, refs: refs, removals: 1,
			err: []string{abs(hBash) + " is not in the copied tree", "needed by " + abs(hApp)},
		},
		{
			name:  "pruned empty store path",
			rules: "+ */\n- *\n", opts: Options{PruneEmptyDirs: true},
			needs: []Need{{Path: abs(hLibfoo), By: "runtime.json env LIBFOO"}}, removals: 1,
			err: []string{"--prune-empty-dirs removes the empty directory " + abs(hLibfoo) + ", needed by runtime.json env LIBFOO"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Plan(src, parse(t, tt.rules), tt.opts)
			must(t, err)
			err = Guard(rep, tt.needs, tt.refs)
			if tt.removals == 0 {
				if err != nil {
					t.Fatalf("Guard: %v", err)
				}
				return
			}
			var ge *GuardError
			if !errors.As(err, &ge) {
				t.Fatalf("Guard err = %v, want a *GuardError", err)
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
	rep := &Report{}
	if err := Guard(rep, []Need{{Path: "/usr/bin/env", By: "x"}}, nil); err == nil || !strings.Contains(err.Error(), "/usr/bin/env") {
		t.Errorf("err = %v", err)
	}
	if err := Guard(rep, nil, map[string][]string{"/nix/store/bad": nil}); err == nil {
		t.Error("bad reference key accepted")
	}
}
