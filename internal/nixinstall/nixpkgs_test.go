package nixinstall_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/nixstore"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// channel makes a small nixpkgs-shaped channel over busybox in dir/name:
// default.nix takes nixpkgs' arguments and has a hello package.
func channel(t *testing.T, dir, name, greeting string) string {
	t.Helper()
	ch := filepath.Join(dir, name)
	testenv.Busybox(t, ch)
	expr := `{ system ? builtins.currentSystem, ... }:
let bb = ./bb; in {
  hello = derivation { name = "hello-chan"; inherit system; builder = "${bb}/bin/sh"; PATH = "${bb}/bin";
    args = [ "-c" "echo ` + greeting + ` > $out" ]; };
}`
	if err := os.WriteFile(filepath.Join(ch, "default.nix"), []byte(expr), 0o644); err != nil {
		t.Fatal(err)
	}
	return ch
}

// buildHello builds an app that imports <nixpkgs> and returns what it wrote.
func buildHello(t *testing.T, n nixinstall.Nix, dir string) string {
	t.Helper()
	app := filepath.Join(dir, "app.nix")
	if err := os.WriteFile(app, []byte(`{ pkgs ? import <nixpkgs> { } }: pkgs.hello`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := n.Command("nix-build", "--no-out-link", app).CombinedOutput()
	if err != nil {
		t.Fatalf("nix-build of an app importing <nixpkgs>: %v\n%s", err, out)
	}
	lines := nixstore.ReadLines(out)
	data, err := os.ReadFile(filepath.Join(n.Dir, "store", filepath.Base(lines[len(lines)-1])))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// TestNixpkgsDirectoryAndTarball resolves <nixpkgs> to a directory, then to
// a file:// tarball, which Nix unpacks into the store and remembers in the
// cache kept under the Nix directory: a warm build finds it there even
// after the tarball is gone.
func TestNixpkgsDirectoryAndTarball(t *testing.T) {
	tarball := testenv.NixTarball(t)
	root := t.TempDir()
	dir := filepath.Join(root, "nix")
	src := source(t, tarball)

	ch := channel(t, root, "chan", "from-the-directory")
	np, err := nixinstall.ParseNixpkgs("chan", root)
	if err != nil {
		t.Fatal(err)
	}
	n, err := nixinstall.Ensure(dir, src, nixmount.UserNS, nixinstall.Conf{Nixpkgs: np})
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if got := buildHello(t, n, root); got != "from-the-directory" {
		t.Fatalf("built %q from the directory channel", got)
	}
	if kept, err := n.KeepNixpkgs(); err != nil || kept != "" {
		t.Fatalf("KeepNixpkgs of a directory = %q, %v; want nothing to keep", kept, err)
	}

	channel(t, root, "packed", "from-the-tarball")
	archive := filepath.Join(root, "nixpkgs.tar.xz")
	if out, err := exec.Command("tar", "-cJf", archive, "-C", root, "packed").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	np, err = nixinstall.ParseNixpkgs("file://"+archive, "/")
	if err != nil {
		t.Fatal(err)
	}
	if n, err = nixinstall.Ensure(dir, src, nixmount.UserNS, nixinstall.Conf{Nixpkgs: np}); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if got := buildHello(t, n, root); got != "from-the-tarball" {
		t.Fatalf("built %q from the tarball channel", got)
	}
	if entries, err := os.ReadDir(filepath.Join(dir, "var", "nixbp", "cache", "nix")); err != nil || len(entries) == 0 {
		t.Fatalf("Nix's cache under the Nix directory: %v, %v", entries, err)
	}
	// The unpacked tarball survives a collection of the store (as the
	// build cache's collection after each build).
	kept, err := n.KeepNixpkgs()
	if err != nil || !strings.HasPrefix(kept, "/nix/store/") {
		t.Fatalf("KeepNixpkgs = %q, %v", kept, err)
	}
	if out, err := n.Command("nix-store", "--gc").CombinedOutput(); err != nil {
		t.Fatalf("nix-store --gc: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "store", filepath.Base(kept))); err != nil {
		t.Fatalf("the collection removed the unpacked nixpkgs %s: %v", kept, err)
	}
	if err := os.Remove(archive); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(ch); err != nil {
		t.Fatal(err)
	}
	// A warm build: a new Ensure on the same directory, the tarball gone.
	if n, err = nixinstall.Ensure(dir, src, nixmount.UserNS, nixinstall.Conf{Nixpkgs: np}); err != nil || !n.Reused {
		t.Fatalf("Ensure: %+v, %v", n, err)
	}
	if out, err := n.Command("nix-instantiate", "--eval", "-E", `(import <nixpkgs> { }).hello.name`).CombinedOutput(); err != nil ||
		strings.TrimSpace(string(out)) != `"hello-chan"` {
		t.Fatalf("warm evaluation of <nixpkgs> with the tarball gone: %v\n%s", err, out)
	}

	// A tarball no Nix command fetched is not fetched to be kept.
	other := filepath.Join(root, "other.tar.xz")
	if err := os.WriteFile(other, []byte("not fetched"), 0o644); err != nil {
		t.Fatal(err)
	}
	np, err = nixinstall.ParseNixpkgs("file://"+other, "/")
	if err != nil {
		t.Fatal(err)
	}
	if n, err = nixinstall.Ensure(dir, src, nixmount.UserNS, nixinstall.Conf{Nixpkgs: np}); err != nil {
		t.Fatal(err)
	}
	if kept, err := n.KeepNixpkgs(); err != nil || kept != "" {
		t.Fatalf("KeepNixpkgs of a tarball never fetched = %q, %v; want nothing", kept, err)
	}
}

// TestDefaultSubstitutersOffline builds with the default substituters
// (cache.nixos.org, which this machine cannot reach): the build must pass,
// paying a bounded delay, which the test logs beside a build without
// substituters.
func TestDefaultSubstitutersOffline(t *testing.T) {
	tarball := testenv.NixTarball(t)
	root := t.TempDir()
	app := filepath.Join(root, "app")
	testenv.Busybox(t, app)
	// The settings' default (settings.CacheNixOSOrg), which settings_test
	// checks against buildpack.toml.
	defaults := []string{nixinstall.CacheNixOSOrg}
	for _, tt := range []struct {
		name string
		subs []string
	}{{"defaults", defaults}, {"none", nil}} {
		dir := filepath.Join(root, tt.name)
		n, err := nixinstall.Ensure(dir, source(t, tarball), nixmount.UserNS, nixinstall.Conf{Substituters: tt.subs})
		if err != nil {
			t.Fatalf("Ensure: %v", err)
		}
		conf, _ := os.ReadFile(filepath.Join(dir, "etc", "nix", "nix.conf"))
		if tt.subs != nil && (!strings.Contains(string(conf), "substituters = https://cache.nixos.org\n") ||
			!strings.Contains(string(conf), "trusted-public-keys = "+nixinstall.CacheNixOSOrgKey+"\n") ||
			!strings.Contains(string(conf), "fallback = true\n") || !strings.Contains(string(conf), "connect-timeout = 5\n")) {
			t.Fatalf("nix.conf with the defaults:\n%s", conf)
		}
		expr := `let bb = ./bb; in derivation { name = "offline-` + tt.name + `"; system = "x86_64-linux";
		  builder = "${bb}/bin/sh"; PATH = "${bb}/bin"; args = ["-c" "echo ok > $out"]; }`
		if err := os.WriteFile(filepath.Join(app, "default.nix"), []byte(expr), 0o644); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		out, err := n.Command("nix-build", "--no-out-link", filepath.Join(app, "default.nix")).CombinedOutput()
		if err != nil {
			t.Fatalf("nix-build with substituters %v: %v\n%s", tt.subs, err, out)
		}
		t.Logf("substituters %s: trivial build in %s", tt.name, time.Since(start).Round(time.Millisecond))
	}
}
