// Package testenv finds the real tools that tests run against (nix, rsync,
// versitygw, the CNB lifecycle) and decides what a missing one means: a skip on
// a developer's machine, a failure under CI, where .ci/run installs them all.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// RepoRoot is the root of this checkout, found from this source file's path.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// ToolsDir is where scripts/tools.sh puts the tools it builds.
func ToolsDir() string {
	if d := os.Getenv("NIXBP_TOOLS_DIR"); d != "" {
		return d
	}
	return filepath.Join(RepoRoot(), ".tools")
}

// Require returns the path of the named program, looked up in .tools/bin and
// then PATH. When it is missing the test is skipped, except under CI (CI set),
// where a missing tool is a broken .ci/run and fails the test.
func Require(t testing.TB, name string) string {
	t.Helper()
	if p := filepath.Join(ToolsDir(), "bin", name); isExecutable(p) {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	Missing(t, name+" is not installed (run .ci/run, or scripts/tools.sh for built tools)")
	return ""
}

// Missing skips the test for a missing prerequisite, or fails it under CI.
func Missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("prerequisite missing under CI: %s", why)
	}
	t.Skipf("prerequisite missing: %s", why)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// NixTarball returns a Nix installer tarball in the official layout, made
// from Debian's nix-bin by fixtures/nix-tarball/make.sh (once, into
// .tools/fixtures), because the official one cannot be downloaded here.
func NixTarball(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(ToolsDir(), "fixtures")
	if m, _ := filepath.Glob(filepath.Join(dir, "nix-*-x86_64-linux.tar.xz")); len(m) == 1 {
		return m[0]
	}
	if _, err := exec.LookPath("nix"); err != nil {
		Missing(t, "nix (Debian nix-bin) is needed to make the Nix tarball fixture")
		return ""
	}
	out, err := exec.Command(filepath.Join(RepoRoot(), "fixtures", "nix-tarball", "make.sh"), dir).CombinedOutput()
	if err != nil {
		t.Fatalf("fixtures/nix-tarball/make.sh: %v\n%s", err, out)
	}
	m, _ := filepath.Glob(filepath.Join(dir, "nix-*-x86_64-linux.tar.xz"))
	if len(m) != 1 {
		t.Fatalf("fixtures/nix-tarball/make.sh made %v", m)
	}
	return m[0]
}

// Busybox copies the static busybox into dir/bb/bin with the sh link, as the
// fixture apps' hop3.nix expects (no binary is committed).
func Busybox(t testing.TB, dir string) {
	t.Helper()
	src := "/bin/busybox"
	if _, err := os.Stat(src); err != nil {
		Missing(t, "busybox-static is not installed")
		return
	}
	bin := filepath.Join(dir, "bb", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.Symlink("busybox", filepath.Join(bin, "sh"))
}
