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
