package nixinstall_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// insideSeccomp marks the run of this test binary that
// TestBuildThroughTheBundledPRoot starts under the seccomp filter.
const insideSeccomp = "NIXBP_TEST_INSIDE_SECCOMP"

// TestBuildThroughTheBundledPRoot installs Nix and builds a derivation the
// way a stock CNB builder must when the cache misses: under a Docker-like
// seccomp profile (user namespaces refused, ptrace allowed), with no proot
// on PATH and no /nix of its own, auto picks proot and runs the static proot
// bundled beside the running binary.
func TestBuildThroughTheBundledPRoot(t *testing.T) {
	if os.Getenv(insideSeccomp) == "" {
		tarball := testenv.NixTarball(t)
		self := testenv.BesideBundledPRoot(t)
		cmd := exec.Command(self, "-test.run=^TestBuildThroughTheBundledPRoot$", "-test.v")
		cmd.Env = append(os.Environ(), insideSeccomp+"="+tarball+":"+self,
			"PATH="+testenv.PathWithout(t, "proot"), "TMPDIR="+t.TempDir())
		testenv.UnderSeccomp(cmd, false)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestBuildThroughTheBundledPRoot") {
			t.Fatalf("the build under the seccomp filter: %v\n%s", err, out)
		}
		return
	}
	tarball, self, _ := strings.Cut(os.Getenv(insideSeccomp), ":")
	if out, err := exec.Command("unshare", "-Ur", "true").CombinedOutput(); err == nil {
		t.Fatalf("unshare -Ur works under the filter: %s", out)
	}
	dir := filepath.Join(t.TempDir(), "nix")
	n, err := nixinstall.Ensure(dir, source(t, tarball), nixmount.Auto, nixinstall.Conf{},
		func(v *nixmount.View) { v.Self = self })
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	want := filepath.Join(filepath.Dir(self), "proot")
	if n.View.Strategy != nixmount.PRoot || n.View.PRootPath != want || !n.View.PRootBundled {
		t.Fatalf("view = %s (%+v), want proot %s (bundled)", n.View.Through(), n.View, want)
	}
	app := t.TempDir()
	testenv.Busybox(t, app)
	expr := `let bb = ./bb; in derivation { name = "hello"; system = "x86_64-linux";
	  builder = "${bb}/bin/sh"; PATH = "${bb}/bin"; args = ["-c" "echo hello through proot > $out"]; }`
	if err := os.WriteFile(filepath.Join(app, "hello.nix"), []byte(expr), 0o644); err != nil {
		t.Fatal(err)
	}
	built, err := n.Command("nix-build", "--no-out-link", filepath.Join(app, "hello.nix")).Output()
	if err != nil {
		t.Fatalf("nix-build through %s: %v", n.View.Through(), err)
	}
	p := strings.TrimSpace(string(built))
	data, err := os.ReadFile(filepath.Join(dir, "store", strings.TrimPrefix(p, "/nix/store/")))
	if err != nil || string(data) != "hello through proot\n" {
		t.Fatalf("built %s = %q, %v", p, data, err)
	}
}
