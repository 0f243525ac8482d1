package cache

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
	"github.com/nix-buildpack/nix-buildpack/internal/tree"
)

// The tests run the real Nix (Debian's nix-bin 2.8) against chroot stores
// (--store DIR: logical /nix/store, files under DIR/nix/store), so they
// never touch /nix.

// nixEnv turns off substituters (each build would wait for cache.nixos.org)
// and build users (the chroot stores belong to whoever runs the tests).
var nixEnv = append(os.Environ(),
	"NIX_CONFIG=substituters =\nbuild-users-group =\nexperimental-features = nix-command\nsandbox = false")

// nix runs a Nix command and returns its stdout, failing the test on error.
func nix(t testing.TB, stdin string, name string, args ...string) string {
	t.Helper()
	out, err := nixRun(stdin, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return out
}

func nixRun(stdin string, name string, args ...string) (string, error) {
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

func requireNix(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"nix-build", "nix-store", "nix"} {
		testenv.Require(t, tool)
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		testenv.Missing(t, "/bin/busybox (apt-get install busybox-static) for the fixture store paths")
	}
}

// fixtureNix builds a small closure from busybox: bb (the busybox source
// path), lib (directories, an executable, a symlink, an empty file and
// directory), data (1 MiB of random bytes and text), app (refers to lib and
// bb, and to itself), top (refers to app and data).
const fixtureNix = `
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

// fixture is a chroot store holding the fixture closure.
type fixture struct {
	root    string   // chroot store root: --store root
	top     string   // the top store path
	closure []string // sorted closure of top
}

func (f *fixture) storeDir() string { return filepath.Join(f.root, "nix", "store") }

// infos returns the closure's PathInfos as Nix's database has them.
func (f *fixture) infos(t testing.TB) []PathInfo {
	t.Helper()
	dump := nix(t, "", "nix-store", append([]string{"--store", f.root, "--dump-db"}, f.closure...)...)
	infos, err := ParseRegistration(strings.NewReader(dump))
	if err != nil {
		t.Fatal(err)
	}
	return infos
}

var (
	fixtureOnce sync.Once
	fixtureVal  *fixture
	fixtureErr  error
	fixtureDir  string
)

// buildFixture returns the shared fixture store, building it on first use.
// Tests must not modify it; copyStore gives a private copy.
func buildFixture(t testing.TB) *fixture {
	t.Helper()
	requireNix(t)
	fixtureOnce.Do(func() {
		fixtureDir, fixtureErr = os.MkdirTemp("", "nixbp-cache-fixture-")
		if fixtureErr == nil {
			fixtureVal, fixtureErr = makeFixture(fixtureDir)
		}
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixtureVal
}

func makeFixture(dir string) (*fixture, error) {
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
	if err := os.WriteFile(filepath.Join(src, "default.nix"), []byte(fixtureNix), 0o644); err != nil {
		return nil, err
	}
	f := &fixture{root: filepath.Join(dir, "store")}
	out, err := nixRun("", "nix-build", "--store", f.root, "--no-out-link", filepath.Join(src, "default.nix"))
	if err != nil {
		return nil, err
	}
	f.top = strings.TrimSpace(out)
	out, err = nixRun("", "nix-store", "--store", f.root, "-qR", f.top)
	if err != nil {
		return nil, err
	}
	f.closure = strings.Fields(out)
	sort.Strings(f.closure)
	return f, nil
}

// emptyStore returns a fresh chroot store root with an empty store dir.
func emptyStore(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "nix", "store"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tree.Remove(root) })
	return root
}

// chrootStore is the chroot store root as Fetch installs into it: valid
// means valid in root's Nix database, as nix-store --check-validity says.
func chrootStore(t testing.TB, root string) Store {
	return Store{Dir: filepath.Join(root, "nix", "store"), Valid: func(paths []string) (map[string]bool, error) {
		out, err := nixRun("", "nix-store", append([]string{"--store", root, "--check-validity", "--print-invalid"}, paths...)...)
		if err != nil {
			return nil, err
		}
		valid := map[string]bool{}
		for _, p := range paths {
			valid[p] = true
		}
		for _, p := range strings.Fields(out) {
			delete(valid, p)
		}
		return valid, nil
	}}
}

// register records infos as valid in the chroot store root the way the
// build pipeline will: nix-store --register-validity --hash-given, run where
// root/nix is mounted on /nix (a private mount namespace). With --store
// root, Nix 2.8 fails on paths not yet valid: it canonicalises them by their
// logical /nix/store path, which is not where their files are.
func register(t testing.TB, root string, infos []PathInfo) {
	t.Helper()
	requireUnshare(t)
	var reg bytes.Buffer
	if err := FormatRegistration(&reg, infos); err != nil {
		t.Fatal(err)
	}
	nix(t, reg.String(), "unshare", "--mount", "--propagation", "private", "sh", "-c",
		`mount --bind "$1" /nix && exec nix-store --register-validity --hash-given`, "sh", filepath.Join(root, "nix"))
}

// loadDB records infos as valid in the chroot store root with
// nix-store --load-db, which works with --store as it does not touch files.
func loadDB(t testing.TB, root string, infos []PathInfo) {
	t.Helper()
	var reg bytes.Buffer
	if err := FormatRegistration(&reg, infos); err != nil {
		t.Fatal(err)
	}
	nix(t, reg.String(), "nix-store", "--store", root, "--load-db")
}

func requireUnshare(t testing.TB) {
	t.Helper()
	testenv.Require(t, "unshare")
	if _, err := os.Stat("/nix"); err != nil {
		testenv.Missing(t, "/nix as a mount point for the test stores (install nix-bin)")
	}
	if err := exec.Command("unshare", "--mount", "true").Run(); err != nil {
		testenv.Missing(t, "mount namespaces (unshare --mount needs root): "+err.Error())
	}
}

// checkStore asserts that root's Nix database holds paths with the same
// NAR hashes as the fixture and that their contents verify.
func checkStore(t testing.TB, root string, f *fixture, paths []string) {
	t.Helper()
	for _, p := range paths {
		want := nix(t, "", "nix-store", "--store", f.root, "-q", "--hash", p)
		got := nix(t, "", "nix-store", "--store", root, "-q", "--hash", p)
		if got != want {
			t.Errorf("%s: NAR hash %q in the restored store, %q in the original", p, got, want)
		}
	}
	if out, err := nixRun("", "nix-store", "--store", root, "--verify", "--check-contents"); err != nil {
		t.Errorf("nix-store --verify --check-contents: %v\n%s", err, out)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		_ = tree.Remove(fixtureDir)
	}
	os.Exit(code)
}

func ctx(t testing.TB) context.Context { return t.Context() }
