package launch_test

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/launch"
	"github.com/nix-buildpack/nix-buildpack/internal/relocate"
)

// relocatedSlug relocates the test store to a fresh /tmp/<5 characters>
// and returns a --nix-dir naming it (no store/ of its own, as in a
// relocated slug) and the prefix.
func relocatedSlug(t *testing.T) (string, relocate.Prefix) {
	t.Helper()
	nixDir := testStore(t)
	var dir string
	for dir == "" {
		b := make([]byte, 3)
		rand.Read(b)
		d := "/tmp/" + hex.EncodeToString(b)[:5]
		if os.Mkdir(d, 0o755) == nil {
			dir = d
		}
	}
	t.Cleanup(func() { exec.Command("chmod", "-R", "u+w", dir).Run(); os.RemoveAll(dir) })
	p := relocate.Prefix(dir)
	names := []string{filepath.Base(bbPath), filepath.Base(appPath)}
	if _, err := relocate.Copy(filepath.Join(nixDir, "store"), dir, names, p); err != nil {
		t.Fatal(err)
	}
	slugNix := t.TempDir()
	if err := os.WriteFile(filepath.Join(slugNix, launch.RelocatedFile), []byte(dir+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return slugNix, p
}

// TestRelocateWhereNothingElseRuns: under a filter refusing user
// namespaces and ptrace (a Heroku dyno), auto and a forced relocate run a
// relocated closure natively; the other strategies are refused with what
// to do.
func TestRelocateWhereNothingElseRuns(t *testing.T) {
	slugNix, p := relocatedSlug(t)
	line := p.StorePath(worker("exit.sh", "7"))
	for _, strategy := range []string{"auto", "relocate"} {
		cmd := launcher(t, slugNix, strategy, line)
		underSeccomp(cmd, true)
		out, err := cmd.CombinedOutput()
		if got := shellStatus(cmd, err); got != 7 {
			t.Fatalf("%s: status %d, want 7\n%s", strategy, got, out)
		}
		if want := "no /nix needed: the closure is relocated to " + p.Dir() + " (relocate)"; !strings.Contains(string(out), want) {
			t.Errorf("%s: output lacks %q:\n%s", strategy, want, out)
		}
	}
	for _, tc := range []struct{ nixDir, strategy, want string }{
		{slugNix, "proot", "NIXBP_STRATEGY=proot, but the build relocated the closure to " + p.Dir()},
		{testStore(t), "relocate", "holds no relocated closure"},
	} {
		cmd := launcher(t, tc.nixDir, tc.strategy, line)
		out, err := cmd.CombinedOutput()
		if got := shellStatus(cmd, err); got != 126 || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s: status %d, output:\n%s\nwant 126 and %q", tc.strategy, got, out, tc.want)
		}
	}
	missing := t.TempDir()
	os.WriteFile(filepath.Join(missing, launch.RelocatedFile), []byte("/tmp/gone0\n"), 0o644)
	cmd := launcher(t, missing, "auto", line)
	out, err := cmd.CombinedOutput()
	if got := shellStatus(cmd, err); got != 126 || !strings.Contains(string(out), "relocated the closure to /tmp/gone0, which does not exist here") {
		t.Errorf("missing relocated dir: status %d\n%s", got, out)
	}
}
