// Package testenv finds the real tools that tests run against (nix, rsync,
// versitygw, the CNB lifecycle) and decides what a missing one means: a skip on
// a developer's machine, a failure under CI, where .ci/run installs them all.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
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

// NixVersion is the version of Nix in the tarball fixture: Debian trixie's
// nix-bin, relinked by fixtures/nix-tarball/make.sh to run on Debian 12.
const NixVersion = "2.26.3"

// NixTarballPath is where fixtures/nix-tarball/make.sh puts the tarball
// fixture under the tools directory. It has its own directory so that the
// older code's glob of tools/fixtures/nix-*.tar.xz does not see it.
func NixTarballPath(tools string) string { return NixTarballPathFor(tools, "amd64") }

// NixTarballPathFor is NixTarballPath for an architecture (amd64, arm64).
func NixTarballPathFor(tools, arch string) string {
	system := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[arch]
	return filepath.Join(tools, "fixtures", "nix-tarball", "nix-"+NixVersion+"-"+system+"-linux.tar.xz")
}

// NixTarball returns a Nix installer tarball in the official layout, made
// from Debian trixie's nix-bin by fixtures/nix-tarball/make.sh (once, into
// the tools directory), because the official one cannot be downloaded here.
// make.sh takes a lock, so test packages running at once share one run.
func NixTarball(t testing.TB) string { return NixTarballFor(t, "amd64") }

// NixTarballFor is NixTarball for an architecture: arm64's is made from
// trixie's arm64 nix-bin (make.sh checks it under qemu-user).
func NixTarballFor(t testing.TB, arch string) string {
	t.Helper()
	p := NixTarballPathFor(ToolsDir(), arch)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	tools := []string{"nix", "apt-get", "dpkg-deb", "patchelf", "flock"}
	if arch == "arm64" {
		tools = append(tools, "qemu-aarch64-static")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			Missing(t, tool+" is needed to make the Nix tarball fixture (fixtures/nix-tarball/make.sh)")
			return ""
		}
	}
	out, err := exec.Command(filepath.Join(RepoRoot(), "fixtures", "nix-tarball", "make.sh"), filepath.Dir(p), arch).CombinedOutput()
	if err != nil {
		t.Fatalf("fixtures/nix-tarball/make.sh: %v\n%s", err, out)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixtures/nix-tarball/make.sh did not make %s\n%s", p, out)
	}
	return p
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

// ModuleDir is the directory of a module this one requires, as the Go
// module cache holds it (go list -m): its test data serve as fixtures.
func ModuleDir(t testing.TB, module string) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module)
	cmd.Dir = RepoRoot()
	out, err := cmd.Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		t.Fatalf("go list -m %s: %v (run go mod download)", module, err)
	}
	return dir
}
