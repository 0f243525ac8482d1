// Package prunetest is a small Nix store, as Nix leaves one, for the tests
// of the pruning step (package prune) and of its guard (package guard).
package prunetest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// ExampleRules is the .slugexclude of the old Nix buildpacks' documentation.
const ExampleRules = `+ store/**/
+ store/*-user-environment/**
+ store/*-nix-1*/**
+ *[._]so*
+ store/*my-awesome-app*/**
- store/**
`

// Store path names of the fixture, relative to the store's root, with
// valid nixbase32 hashes.
const (
	Glibc   = "store/0a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-glibc-2.38"
	UserEnv = "store/1a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-user-environment"
	Nix     = "store/2a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-nix-1.11.16"
	App     = "store/3a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-my-awesome-app-1.0"
	Python  = "store/4a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-python3-3.11.4"
	Openssl = "store/5a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-openssl-3.0.9"
	Libfoo  = "store/6a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-libfoo-1.0"
	Bash    = "store/7a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-bash-5.2"
)

// Abs is a fixture path as Nix names it: "/nix/store/...".
func Abs(rel string) string { return "/nix/" + rel }

// Store writes a small Nix store as Nix leaves one: read-only
// directories and files with mtime 1, store paths with bin, lib, share,
// include, a user environment of symlinks, an empty .links, and a database
// beside the store.
func Store(t testing.TB) string {
	t.Helper()
	root := filepath.Join(testenv.TempDir(t), "nix")
	files := map[string]int{
		Glibc + "/lib/libc.so.6":                              2000,
		Glibc + "/lib/libm.so.6":                              900,
		Glibc + "/lib/gconv/UTF-16.so":                        100,
		Glibc + "/include/stdio.h":                            300,
		Glibc + "/bin/ldd":                                    50,
		Glibc + "/share/locale/de/LC_MESSAGES/libc.mo":        400,
		UserEnv + "/manifest.nix":                             20,
		Nix + "/bin/nix":                                      700,
		Nix + "/share/man/man1/nix.1":                         30,
		App + "/bin/web":                                      120,
		App + "/share/doc/README":                             10,
		Python + "/bin/python3":                               60,
		Python + "/lib/libpython3.11.so.1.0":                  3000,
		Python + "/lib/python3.11/os.py":                      500,
		Python + "/lib/python3.11/__pycache__/os.cpython.pyc": 600,
		Openssl + "/lib/libssl.so.3":                          800,
		Openssl + "/etc/ssl/openssl.cnf":                      40,
		Libfoo + "/lib/libfoo.a":                              1500,
		Libfoo + "/include/foo.h":                             25,
		Bash + "/bin/bash":                                    1100,
		"var/nix/db/db.sqlite":                                4096,
	}
	for p, n := range files {
		f := filepath.Join(root, p)
		must(t, os.MkdirAll(filepath.Dir(f), 0o755))
		must(t, os.WriteFile(f, []byte(strings.Repeat("x", n)), 0o444))
		if strings.Contains(p, "/bin/") {
			must(t, os.Chmod(f, 0o555))
		}
	}
	must(t, os.MkdirAll(filepath.Join(root, UserEnv, "bin"), 0o755))
	must(t, os.Symlink(Abs(App)+"/bin/web", filepath.Join(root, UserEnv, "bin/web")))
	must(t, os.Symlink(Abs(Python)+"/bin/python3", filepath.Join(root, UserEnv, "bin/python3")))
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

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// lutimes sets a path's times without following a symlink.
func lutimes(path string, tm time.Time) error {
	ts := unix.NsecToTimespec(tm.UnixNano())
	return unix.UtimesNanoAt(unix.AT_FDCWD, path, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
}
