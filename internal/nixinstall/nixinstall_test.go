package nixinstall_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

func TestMain(m *testing.M) {
	testenv.MaybeSeccompExec()
	nixmount.MaybeRunChild()
	os.Exit(m.Run())
}

func source(t *testing.T, tarball string) nixinstall.Tarball {
	base := filepath.Base(tarball) // nix-<version>-x86_64-linux.tar.xz
	version := strings.TrimSuffix(strings.TrimPrefix(base, "nix-"), "-x86_64-linux.tar.xz")
	return nixinstall.Tarball{Version: version, Checksum: "test-" + version,
		Open: func() (io.ReadCloser, error) { return os.Open(tarball) }}
}

// TestInstallBuildAndReuse installs the tarball, builds a derivation with the
// installed Nix through each /nix strategy, and reuses the installation.
func TestInstallBuildAndReuse(t *testing.T) {
	tarball := testenv.NixTarball(t)
	for _, strat := range []nixmount.Strategy{nixmount.UserNS, nixmount.PRoot} {
		t.Run(string(strat), func(t *testing.T) {
			if strat == nixmount.PRoot {
				testenv.Require(t, "proot")
			}
			dir := filepath.Join(t.TempDir(), "nix")
			src := source(t, tarball)
			n, err := nixinstall.Ensure(dir, src, strat, nixinstall.Conf{})
			if err != nil {
				t.Fatalf("Ensure: %v", err)
			}
			if n.Reused || n.View.Strategy != strat || !strings.HasSuffix(n.StorePath, "-nix-"+src.Version) {
				t.Fatalf("Ensure = %+v", n)
			}
			conf, err := os.ReadFile(filepath.Join(dir, "etc", "nix", "nix.conf"))
			if err != nil || !strings.Contains(string(conf), "substituters = \n") || !strings.Contains(string(conf), "sandbox = false") {
				t.Fatalf("nix.conf = %q, %v", conf, err)
			}
			out, err := n.Command("nix-store", "--verify-path", n.StorePath).CombinedOutput()
			if err != nil {
				t.Fatalf("nix-store --verify-path: %v\n%s", err, out)
			}
			app := t.TempDir()
			testenv.Busybox(t, app)
			expr := `let bb = ./bb; in derivation { name = "hello"; system = "x86_64-linux";
			  builder = "${bb}/bin/sh"; PATH = "${bb}/bin"; args = ["-c" "echo hello > $out"]; }`
			if err := os.WriteFile(filepath.Join(app, "hello.nix"), []byte(expr), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := n.Command("nix-build", "--no-out-link", filepath.Join(app, "hello.nix"))
			built, err := cmd.Output()
			if err != nil {
				t.Fatalf("nix-build: %v", err)
			}
			p := strings.TrimSpace(string(built))
			data, err := os.ReadFile(filepath.Join(dir, "store", strings.TrimPrefix(p, "/nix/store/")))
			if err != nil || string(data) != "hello\n" {
				t.Fatalf("built %s = %q, %v", p, data, err)
			}

			again, err := nixinstall.Ensure(dir, src, strat, nixinstall.Conf{})
			if err != nil || !again.Reused || again.StorePath != n.StorePath {
				t.Fatalf("second Ensure = %+v, %v; want reuse", again, err)
			}
			src.Checksum = "another tarball"
			other, err := nixinstall.Ensure(dir, src, strat, nixinstall.Conf{})
			if err != nil || other.Reused {
				t.Fatalf("Ensure with another checksum = %+v, %v; want a reinstall", other, err)
			}
			if _, err := os.Stat(filepath.Join(dir, "store", strings.TrimPrefix(p, "/nix/store/"))); !os.IsNotExist(err) {
				t.Fatalf("reinstall kept %s from the old store", p)
			}
		})
	}
}

func TestNotATarball(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nix")
	bogus := filepath.Join(t.TempDir(), "nix.tar.xz")
	if err := os.WriteFile(bogus, []byte("not xz"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := nixinstall.Ensure(dir, nixinstall.Tarball{Version: "2.34.8", Checksum: "x",
		Open: func() (io.ReadCloser, error) { return os.Open(bogus) }}, nixmount.UserNS, nixinstall.Conf{})
	if err == nil || !strings.Contains(err.Error(), "unable to unpack the Nix 2.34.8 tarball") {
		t.Fatalf("Ensure(bogus) error = %v", err)
	}
}
