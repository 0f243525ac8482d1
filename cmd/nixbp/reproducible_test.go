package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestCheckReproducible runs `nixbp check-reproducible --nix-dir DIR` on a
// build cache's store whose output GC root (as a build leaves it) names a
// constant derivation's output: reproducible, in the sandbox the build
// had. Without a root it asks for the output.
func TestCheckReproducible(t *testing.T) {
	tarball := testenv.NixTarball(t)
	t.Setenv("TMPDIR", t.TempDir())
	dir := filepath.Join(t.TempDir(), "nix")
	n, err := nixinstall.Ensure(dir, nixinstall.Tarball{Version: testenv.NixVersion, Checksum: "test",
		Open: func() (io.ReadCloser, error) { return os.Open(tarball) }}, nixmount.UserNS, nixinstall.Conf{Sandbox: settings.SandboxAuto})
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err = runCheckReproducible([]string{"--nix-dir", dir, "--strategy", "userns"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "holds no build output") {
		t.Fatalf("without a root: %v", err)
	}
	app := t.TempDir()
	testenv.Busybox(t, app)
	expr := `let bb = ./bb; in derivation { name = "constant"; system = "x86_64-linux";
	  builder = "${bb}/bin/sh"; PATH = "${bb}/bin"; args = [ "-c" "echo constant > $out" ]; }`
	if err := os.WriteFile(filepath.Join(app, "default.nix"), []byte(expr), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := n.Command("nix-build", "--no-out-link", app).Output()
	if err != nil {
		t.Fatal(err)
	}
	output := strings.TrimSpace(string(out))
	roots := filepath.Join(dir, "var", "nix", "gcroots", "nixbp")
	if err := os.MkdirAll(roots, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(output, filepath.Join(roots, "output")); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if err := runCheckReproducible([]string{"--nix-dir", dir, "--strategy", "userns"}, &stdout, &stderr); err != nil {
		t.Fatalf("check-reproducible: %v\n%s", err, stderr.String())
	}
	if want := "reproducible: " + output + " (rebuilt from "; !strings.HasPrefix(stdout.String(), want) || !strings.Contains(stdout.String(), "in Nix's sandbox") {
		t.Fatalf("stdout = %q, want %q... in Nix's sandbox", stdout.String(), want)
	}
}
