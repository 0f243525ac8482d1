package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// BundledPRoot is the static proot scripts/proot.sh built into
// .tools/proot (scripts/setup.sh), the one scripts/package.sh bundles.
func BundledPRoot(t testing.TB) string {
	t.Helper()
	p := filepath.Join(ToolsDir(), "proot", "proot")
	if !isExecutable(p) {
		Missing(t, "the bundled proot is not built (scripts/proot.sh "+filepath.Dir(p)+", run by scripts/setup.sh)")
	}
	return p
}

// BesideBundledPRoot makes a directory holding a copy of the bundled proot
// and a link to this test binary, and returns the link: a test binary
// started from there finds the bundled proot beside itself, as the
// buildpack's binaries do.
func BesideBundledPRoot(t testing.TB) string {
	t.Helper()
	src := BundledPRoot(t)
	dir := openDir(t, "beside-proot-")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "proot"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, filepath.Base(self))
	if err := os.Symlink(self, link); err != nil {
		t.Fatal(err)
	}
	return link
}

// PathWithout returns a PATH value that finds every program the current
// PATH finds except the named ones: a directory of links, so that a test
// can take proot away from a machine that has it installed.
func PathWithout(t testing.TB, names ...string) string {
	t.Helper()
	dir := openDir(t, "path-without-")
	skip := map[string]bool{}
	for _, n := range names {
		skip[n] = true
	}
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		entries, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if skip[e.Name()] {
				continue
			}
			// The first directory on PATH wins, as in a lookup.
			_ = os.Symlink(filepath.Join(d, e.Name()), filepath.Join(dir, e.Name()))
		}
	}
	return dir
}

// openDir is a temporary directory any user may read, unlike t.TempDir's
// (the e2e tests run the buildpack as an unprivileged uid), removed after
// the test.
func openDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
