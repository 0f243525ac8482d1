package launch_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

func TestMain(m *testing.M) {
	testenv.MaybeSeccompExec()
	os.Exit(m.Run())
}

// underSeccomp wraps cmd to run under the Docker-like filter.
func underSeccomp(cmd *exec.Cmd, ptraceToo bool) { testenv.UnderSeccomp(cmd, ptraceToo) }

// TestLauncherUnderADockerLikeSeccompProfile: where user namespaces are
// refused, auto falls back to proot after checking ptrace, and says why;
// where ptrace is refused too, the error lists every attempt and the fixes.
func TestLauncherUnderADockerLikeSeccompProfile(t *testing.T) {
	nixDir := testStore(t)
	if _, err := exec.LookPath("proot"); err != nil {
		testenv.Missing(t, "proot is not installed")
	}

	cmd := launcher(t, nixDir, "auto", worker("exit.sh", "5"))
	underSeccomp(cmd, false)
	out, err := cmd.CombinedOutput()
	if got := shellStatus(cmd, err); got != 5 {
		t.Fatalf("status %d, want 5\n%s", got, out)
	}
	for _, want := range []string{"/nix through proot", "userns skipped: unprivileged user namespaces are refused here"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	cmd = launcher(t, nixDir, "auto", worker("exit.sh", "5"))
	underSeccomp(cmd, true)
	out, err = cmd.CombinedOutput()
	if got := shellStatus(cmd, err); got != 126 {
		t.Fatalf("status %d, want 126\n%s", got, out)
	}
	for _, want := range []string{"unable to make " + nixDir + " visible at /nix; tried:", "\n  native: ",
		"\n  userns: unprivileged user namespaces are refused here", "\n  proot: ptrace is refused here, so proot cannot run",
		"fix one of:", "/nix -> " + nixDir, "--security-opt seccomp="} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
