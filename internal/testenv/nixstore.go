package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/tree"
)

// Tests run the host's Nix (Debian's nix-bin 2.8) against chroot stores
// (--store DIR: logical /nix/store, files under DIR/nix/store), so they
// never touch /nix.

// nixEnv turns off substituters (each build would wait for cache.nixos.org)
// and build users (the chroot stores belong to whoever runs the tests).
var nixEnv = append(os.Environ(),
	"NIX_CONFIG=substituters =\nbuild-users-group =\nexperimental-features = nix-command\nsandbox = false")

// Nix runs one of the host's Nix tools with stdin and returns its stdout,
// failing the test on error.
func Nix(t testing.TB, stdin string, name string, args ...string) string {
	t.Helper()
	out, err := NixRun(stdin, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return out
}

// NixRun runs one of the host's Nix tools (or any program, with Nix's test
// configuration in its environment) and returns its stdout; the error
// holds its stderr.
func NixRun(stdin string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = nixEnv
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), &cmdError{err: err, stderr: stderr.String()}
	}
	return stdout.String(), nil
}

type cmdError struct {
	err    error
	stderr string
}

func (e *cmdError) Error() string { return e.err.Error() + "\n" + e.stderr }

func (e *cmdError) Unwrap() error { return e.err }

// RequireNix skips (or, under CI, fails) a test without the host's Nix or
// the busybox the fixture closure is built from.
func RequireNix(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"nix-build", "nix-store", "nix"} {
		Require(t, tool)
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		Missing(t, "/bin/busybox (apt-get install busybox-static) for the fixture store paths")
	}
}

// closureNix builds a small closure from busybox: bb (the busybox source
// path), lib (directories, an executable, a symlink, an empty file and
// directory), data (1 MiB of random bytes and text), app (refers to lib and
// bb, and to itself), top (refers to app and data).
const closureNix = `
let
  bb = ./bb;
  mk = name: script: derivation {
    inherit name; system = "x86_64-linux"; builder = "${bb}/bin/sh"; PATH = "${bb}/bin";
    args = ["-c" script];
  };
  lib = mk "lib" ''
    mkdir -p $out/lib/sub $out/empty-dir $out/bin
    echo "library text" > $out/lib/a.txt
    : > $out/lib/empty
    seq 1 20000 > $out/lib/sub/numbers
    printf '#!/bin/sh\necho lib\n' > $out/bin/tool; chmod +x $out/bin/tool
    ln -s ../lib/a.txt $out/bin/link
    ln -s ${bb}/bin/busybox $out/bin/bb
  '';
  data = mk "data" ''
    mkdir -p $out; head -c 1048576 /dev/urandom > $out/random; seq 1 100000 > $out/text
  '';
  app = mk "app" ''
    mkdir -p $out/bin
    printf '#!${bb}/bin/sh\n${lib}/bin/tool\necho %s\n' $out > $out/bin/app; chmod +x $out/bin/app
  '';
in mk "top" ''
  mkdir -p $out; echo ${app} ${data} > $out/refs; ln -s ${app}/bin/app $out/app
''
`

// Closure is a chroot store holding the fixture closure.
type Closure struct {
	Src   string   // the expression's directory: default.nix and bb/ (busybox)
	Root  string   // chroot store root: --store Root
	Top   string   // the top store path
	Paths []string // the sorted closure of Top
}

// StoreDir is the directory holding the closure's store paths.
func (c *Closure) StoreDir() string { return filepath.Join(c.Root, "nix", "store") }

var (
	closureOnce sync.Once
	closureVal  *Closure
	closureErr  error
	closureDir  string
)

// NixClosure returns the test binary's shared fixture closure, built with
// the host's Nix on first use. Tests must not modify it. A package using it
// calls RemoveNixClosure from its TestMain.
func NixClosure(t testing.TB) *Closure {
	t.Helper()
	RequireNix(t)
	closureOnce.Do(func() {
		closureDir, closureErr = os.MkdirTemp("", "nixbp-test-closure-")
		if closureErr == nil {
			closureVal, closureErr = makeClosure(closureDir)
		}
	})
	if closureErr != nil {
		t.Fatal(closureErr)
	}
	return closureVal
}

// RemoveNixClosure removes the fixture closure, if one was built.
func RemoveNixClosure() {
	if closureDir != "" {
		_ = tree.Remove(closureDir)
	}
}

func makeClosure(dir string) (*Closure, error) {
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(filepath.Join(src, "bb", "bin"), 0o755); err != nil {
		return nil, err
	}
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(src, "bb", "bin", "busybox"), bb, 0o755); err != nil {
		return nil, err
	}
	if err := os.Symlink("busybox", filepath.Join(src, "bb", "bin", "sh")); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(src, "default.nix"), []byte(closureNix), 0o644); err != nil {
		return nil, err
	}
	c := &Closure{Src: src, Root: filepath.Join(dir, "store")}
	out, err := NixRun("", "nix-build", "--store", c.Root, "--no-out-link", filepath.Join(src, "default.nix"))
	if err != nil {
		return nil, err
	}
	c.Top = strings.TrimSpace(out)
	out, err = NixRun("", "nix-store", "--store", c.Root, "-qR", c.Top)
	if err != nil {
		return nil, err
	}
	c.Paths = strings.Fields(out)
	sort.Strings(c.Paths)
	return c, nil
}

// EmptyStore returns a fresh chroot store root with an empty store
// directory, removed after the test.
func EmptyStore(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "nix", "store"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tree.Remove(root) })
	return root
}

// RequireUnshare skips (or, under CI, fails) a test that needs a private
// mount namespace with /nix as a mount point.
func RequireUnshare(t testing.TB) {
	t.Helper()
	Require(t, "unshare")
	if _, err := os.Stat("/nix"); err != nil {
		Missing(t, "/nix as a mount point for the test stores (install nix-bin)")
	}
	if err := exec.Command("unshare", "--mount", "true").Run(); err != nil {
		Missing(t, "mount namespaces (unshare --mount needs root): "+err.Error())
	}
}

// CheckStore asserts that root's Nix database holds paths with the same
// NAR hashes as the store want and that their contents verify.
func CheckStore(t testing.TB, root, want string, paths []string) {
	t.Helper()
	for _, p := range paths {
		w := Nix(t, "", "nix-store", "--store", want, "-q", "--hash", p)
		got := Nix(t, "", "nix-store", "--store", root, "-q", "--hash", p)
		if got != w {
			t.Errorf("%s: NAR hash %q in the restored store, %q in the original", p, got, w)
		}
	}
	if out, err := NixRun("", "nix-store", "--store", root, "--verify", "--check-contents"); err != nil {
		t.Errorf("nix-store --verify --check-contents: %v\n%s", err, out)
	}
}
