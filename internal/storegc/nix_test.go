package storegc_test

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/storegc"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// The tests run Debian's Nix, installed from the tarball fixture, on private
// stores shown at /nix by the same views the buildpack uses.

func TestMain(m *testing.M) {
	nixmount.MaybeRunChild()
	code := m.Run()
	if templateDir != "" {
		_ = os.RemoveAll(templateDir)
	}
	os.Exit(code)
}

// appNix is an app with a build-time-only input (dep: 3 MiB the app's build
// reads but does not refer to), a runtime input (lib) and 1 MiB of its own
// that changes with every version.
const appNix = `{ version ? "1" }:
let
  bb = ./bb;
  mk = name: script: derivation {
    inherit name; system = "x86_64-linux"; builder = "${bb}/bin/sh"; PATH = "${bb}/bin"; args = ["-c" script];
  };
  dep = mk "dep" "mkdir -p $out; head -c 3145728 /dev/urandom > $out/blob; echo from-dep > $out/tool";
  lib = mk "lib" "mkdir -p $out; echo lib > $out/lib";
in mk "app-${version}" ''
  mkdir -p $out; cat ${dep}/tool > $out/from-dep; echo ${lib} > $out/lib-ref; echo ${version} > $out/version
  head -c 1048576 /dev/urandom > $out/blob
''
`

var (
	templateOnce sync.Once
	templateDir  string
	templateErr  error
)

func source(tarball string) nixinstall.Tarball {
	version := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(tarball), "nix-"), "-x86_64-linux.tar.xz")
	return nixinstall.Tarball{Version: version, Checksum: "test-" + version,
		Open: func() (io.ReadCloser, error) { return os.Open(tarball) }}
}

// newStore returns a fresh Nix installation (a copy of one installed once)
// and an app directory holding appNix and busybox.
func newStore(t *testing.T) (nixinstall.Nix, string) {
	t.Helper()
	tarball := testenv.NixTarball(t)
	testenv.Require(t, "cp")
	templateOnce.Do(func() {
		if templateDir, templateErr = os.MkdirTemp("", "storegc-nix-"); templateErr == nil {
			_, templateErr = nixinstall.Ensure(filepath.Join(templateDir, "nix"), source(tarball), nixmount.Auto, nixinstall.Conf{})
		}
	})
	if templateErr != nil {
		t.Fatal(templateErr)
	}
	dir := filepath.Join(t.TempDir(), "nix")
	if out, err := exec.Command("cp", "-a", filepath.Join(templateDir, "nix"), dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	nix, err := nixinstall.Ensure(dir, source(tarball), nixmount.Auto, nixinstall.Conf{})
	if err != nil || !nix.Reused {
		t.Fatalf("Ensure on the copy = %+v, %v; want reuse", nix, err)
	}
	app := t.TempDir()
	testenv.Busybox(t, app)
	if err := os.WriteFile(filepath.Join(app, "hop3.nix"), []byte(appNix), 0o644); err != nil {
		t.Fatal(err)
	}
	return nix, app
}

var buildingLine = regexp.MustCompile(`(?m)^building '(/nix/store/[^']+\.drv)'`)

// build builds version of the app and returns its output and the
// derivations Nix built.
func build(t *testing.T, nix nixinstall.Nix, app, version string) (string, []string) {
	t.Helper()
	cmd := nix.Command("nix-build", "--no-out-link", "hop3.nix", "--argstr", "version", version)
	cmd.Dir = app
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nix-build version %s: %v\n%s", version, err, stderr.String())
	}
	var built []string
	for _, m := range buildingLine.FindAllStringSubmatch(stderr.String(), -1) {
		built = append(built, filepath.Base(m[1]))
	}
	return strings.TrimSpace(string(out)), built
}

// valid says whether path is valid in the store and present on disk.
func valid(t *testing.T, nix nixinstall.Nix, path string) bool {
	t.Helper()
	s, err := storegc.ReadStore(nix)
	if err != nil {
		t.Fatal(err)
	}
	_, ok := s.Infos[path]
	_, statErr := os.Lstat(filepath.Join(nix.Dir, "store", filepath.Base(path)))
	if ok != (statErr == nil) {
		t.Fatalf("%s: valid %v but on disk: %v", path, ok, statErr)
	}
	return ok
}

func deriver(t *testing.T, nix nixinstall.Nix, path string) string {
	t.Helper()
	out, err := nix.Command("nix-store", "--query", "--deriver", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// named returns the valid store paths whose name ends with suffix.
func named(t *testing.T, nix nixinstall.Nix, suffix string) []string {
	t.Helper()
	s, err := storegc.ReadStore(nix)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for p := range s.Infos {
		if strings.HasSuffix(p, suffix) {
			out = append(out, p)
		}
	}
	return out
}

func testTarball(t *testing.T) string { return testenv.NixTarball(t) }
