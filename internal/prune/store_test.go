package prune

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/exclude"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// exampleRules is the .slugexclude of the old Nix buildpacks' documentation.
const exampleRules = `+ store/**/
+ store/*-user-environment/**
+ store/*-nix-1*/**
+ *[._]so*
+ store/*my-awesome-app*/**
- store/**
`

// Store path names of the fixture, with valid nixbase32 hashes.
var (
	hGlibc   = "store/0a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-glibc-2.38"
	hUserEnv = "store/1a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-user-environment"
	hNix     = "store/2a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-nix-1.11.16"
	hApp     = "store/3a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-my-awesome-app-1.0"
	hPython  = "store/4a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-python3-3.11.4"
	hOpenssl = "store/5a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-openssl-3.0.9"
	hLibfoo  = "store/6a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-libfoo-1.0"
	hBash    = "store/7a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-bash-5.2"
)

func abs(rel string) string { return "/nix/" + rel }

// makeStore writes a small Nix store as Nix leaves one: read-only
// directories and files with mtime 1, store paths with bin, lib, share,
// include, a user environment of symlinks, an empty .links, and a database
// beside the store.
func makeStore(t *testing.T) string {
	t.Helper()
	root := filepath.Join(tempDir(t), "nix")
	files := map[string]int{
		hGlibc + "/lib/libc.so.6":                              2000,
		hGlibc + "/lib/libm.so.6":                              900,
		hGlibc + "/lib/gconv/UTF-16.so":                        100,
		hGlibc + "/include/stdio.h":                            300,
		hGlibc + "/bin/ldd":                                    50,
		hGlibc + "/share/locale/de/LC_MESSAGES/libc.mo":        400,
		hUserEnv + "/manifest.nix":                             20,
		hNix + "/bin/nix":                                      700,
		hNix + "/share/man/man1/nix.1":                         30,
		hApp + "/bin/web":                                      120,
		hApp + "/share/doc/README":                             10,
		hPython + "/bin/python3":                               60,
		hPython + "/lib/libpython3.11.so.1.0":                  3000,
		hPython + "/lib/python3.11/os.py":                      500,
		hPython + "/lib/python3.11/__pycache__/os.cpython.pyc": 600,
		hOpenssl + "/lib/libssl.so.3":                          800,
		hOpenssl + "/etc/ssl/openssl.cnf":                      40,
		hLibfoo + "/lib/libfoo.a":                              1500,
		hLibfoo + "/include/foo.h":                             25,
		hBash + "/bin/bash":                                    1100,
		"var/nix/db/db.sqlite":                                 4096,
	}
	for p, n := range files {
		f := filepath.Join(root, p)
		must(t, os.MkdirAll(filepath.Dir(f), 0o755))
		must(t, os.WriteFile(f, []byte(strings.Repeat("x", n)), 0o444))
		if strings.Contains(p, "/bin/") {
			must(t, os.Chmod(f, 0o555))
		}
	}
	must(t, os.MkdirAll(filepath.Join(root, hUserEnv, "bin"), 0o755))
	must(t, os.Symlink(abs(hApp)+"/bin/web", filepath.Join(root, hUserEnv, "bin/web")))
	must(t, os.Symlink(abs(hPython)+"/bin/python3", filepath.Join(root, hUserEnv, "bin/python3")))
	must(t, os.MkdirAll(filepath.Join(root, "store/.links"), 0o755))
	// Read-only, mtime 1, deepest first, as in /nix/store. (The times of
	// all directories are set: rsync leaves a directory's time alone when it
	// is in the same second as the copy, see TestRsyncDirTimeQuirk.)
	var all []string
	must(t, filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		all = append(all, p)
		return err
	}))
	for i := len(all) - 1; i >= 0; i-- {
		fi, err := os.Lstat(all[i])
		must(t, err)
		if fi.IsDir() && strings.HasPrefix(all[i], filepath.Join(root, "store")+"/") {
			must(t, os.Chmod(all[i], 0o555))
		}
		must(t, lutimes(all[i], time.Unix(1, 0)))
	}
	return root
}

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
