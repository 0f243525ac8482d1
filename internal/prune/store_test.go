package prune

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/exclude"
	"github.com/nix-buildpack/nix-buildpack/internal/prune/prunetest"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// exampleRules is the .slugexclude of the old Nix buildpacks' documentation.
const exampleRules = prunetest.ExampleRules

// Store path names of the fixture (package prunetest).
const (
	hGlibc   = prunetest.Glibc
	hUserEnv = prunetest.UserEnv
	hNix     = prunetest.Nix
	hApp     = prunetest.App
	hPython  = prunetest.Python
	hOpenssl = prunetest.Openssl
	hLibfoo  = prunetest.Libfoo
	hBash    = prunetest.Bash
)

func abs(rel string) string { return prunetest.Abs(rel) }

func makeStore(t *testing.T) string { return prunetest.Store(t) }

func parse(t *testing.T, text string) *exclude.Rules {
	t.Helper()
	rs, err := exclude.ParseRules(strings.NewReader(text), ".slugexclude")
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestExampleOnStore runs the documented example on a store layout against
// real rsync, and pins what it keeps.
func TestExampleOnStore(t *testing.T) {
	rsync := testenv.Require(t, "rsync")
	src := makeStore(t)
	rulesFile := filepath.Join(tempDir(t), ".slugexclude")
	must(t, os.WriteFile(rulesFile, []byte(exampleRules), 0o644))
	rules := parse(t, exampleRules)
	for _, prune := range []bool{false, true} {
		for _, link := range []bool{false, true} {
			tmp := tempDir(t)
			want, got := filepath.Join(tmp, "rsync"), filepath.Join(tmp, "ours")
			must(t, rsyncCopy(rsync, rulesFile, src, want, prune))
			if _, err := Copy(src, got, rules, Options{PruneEmptyDirs: prune, Link: link}); err != nil {
				t.Fatal(err)
			}
			ws, err := snapshot(want)
			must(t, err)
			gs, err := snapshot(got)
			must(t, err)
			if d := diffSnapshots(ws, gs); d != "" {
				t.Errorf("prune=%v link=%v: differs from rsync:\n%s", prune, link, d)
			}
		}
	}
	rep, err := Plan(src, rules, Options{PruneEmptyDirs: true})
	must(t, err)
	var files []string
	for _, e := range rep.Kept {
		if !e.Mode.IsDir() {
			files = append(files, e.Path)
		}
	}
	wantFiles := []string{
		hGlibc + "/lib/gconv/UTF-16.so",
		hGlibc + "/lib/libc.so.6",
		hGlibc + "/lib/libm.so.6",
		hUserEnv + "/bin/python3",
		hUserEnv + "/bin/web",
		hUserEnv + "/manifest.nix",
		hNix + "/bin/nix",
		hNix + "/share/man/man1/nix.1",
		hApp + "/bin/web",
		hApp + "/share/doc/README",
		hPython + "/lib/libpython3.11.so.1.0",
		hOpenssl + "/lib/libssl.so.3",
		"var/nix/db/db.sqlite",
	}
	if !reflect.DeepEqual(files, wantFiles) {
		t.Errorf("kept files:\n%s\nwant:\n%s", strings.Join(files, "\n"), strings.Join(wantFiles, "\n"))
	}
	for _, p := range rep.Pruned {
		if p == hLibfoo || p == "store/.links" {
			continue
		}
		if strings.HasPrefix(p, hLibfoo+"/") || strings.HasPrefix(p, hGlibc+"/include") || strings.HasPrefix(p, hBash) ||
			strings.HasPrefix(p, hGlibc+"/share") || strings.HasPrefix(p, hGlibc+"/bin") || strings.HasPrefix(p, hPython) ||
			strings.HasPrefix(p, hOpenssl+"/etc") {
			continue
		}
		t.Errorf("unexpected pruned directory %s", p)
	}
}
