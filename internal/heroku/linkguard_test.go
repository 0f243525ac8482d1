package heroku

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/launch"
	"github.com/nix-buildpack/nix-buildpack/internal/pipeline"
	"github.com/nix-buildpack/nix-buildpack/internal/process"
	"github.com/nix-buildpack/nix-buildpack/internal/runtimejson"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// buildLauncher builds nixbp-launch into dir.
func buildLauncher(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "nixbp-launch"), "./cmd/nixbp-launch")
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/nixbp-launch: %v\n%s", err, out)
	}
}

// TestProfileRefusedLinkLeavesPATH (issue 21, row 1): a slug relocated for
// a /tmp link, whose link another uid made first (pointing at its own
// programs). Sourcing .profile.d/nix.sh in dash, bash and busybox sh, as a
// one-off shell does (heroku run bash, cf ssh), runs the real launcher,
// which refuses the link; then no PATH entry or variable leads through
// the link, and stderr says why. With the link gone, the same script makes
// it and sets both.
func TestProfileRefusedLinkLeavesPATH(t *testing.T) {
	if os.Getuid() != 0 {
		testenv.Missing(t, "needs root to give the link to another uid (CI runs as root)")
	}
	shells := map[string][]string{"dash": {"/bin/sh"}, "bash": {"bash", "--posix"}}
	if bb, err := exec.LookPath("busybox"); err == nil {
		shells["busybox sh"] = []string{bb, "sh"}
	} else {
		testenv.Missing(t, "busybox is not installed")
	}
	app, linkDir, theirs := t.TempDir(), t.TempDir(), t.TempDir()
	link := filepath.Join(linkDir, "abcde")
	bin := filepath.Join(app, NixDir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	buildLauncher(t, bin)
	for p, c := range map[string]string{
		filepath.Join(NixDir, launch.RelocatedFile):       link + "\nlink ../.nixs\n",
		filepath.Join(".nixs", launch.ClosureIDFile):      "key-a\n",
		filepath.Join(".nixs", "abc-app", "bin", "hello"): "#!/bin/sh\necho hello\n",
	} {
		if err := writeFile(filepath.Join(app, p), c, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := writeFile(filepath.Join(theirs, "abc-app", "bin", "hello"), "#!/bin/sh\necho pwned\n", 0o755); err != nil {
		t.Fatal(err)
	}
	rt := runtimejson.Runtime{Path: []string{link + "/abc-app/bin"},
		Env: map[string]string{"VIA_LINK": link + "/abc-app/lib", "PLAIN": "x"}}
	plan, err := process.Describe(rt, process.Declared{}, slugLauncher)
	if err != nil {
		t.Fatal(err)
	}
	script, err := profile(pipeline.Result{Runtime: rt, Env: plan.Env}, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFile(filepath.Join(app, ProfileScript), script, 0o644); err != nil {
		t.Fatal(err)
	}
	source := func(t *testing.T, sh []string) (stdout, stderr string) {
		cmd := exec.Command(sh[0], append(sh[1:], "-c", `for f in .profile.d/*.sh; do . "$f"; done; `+
			`printf '%s\n' "$PATH" "${VIA_LINK-unset}" "${PLAIN-unset}"`)...)
		cmd.Dir = app
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + app}
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v\n%s%s\nscript:\n%s", err, out.String(), errOut.String(), script)
		}
		return out.String(), errOut.String()
	}
	for name, sh := range shells {
		t.Run(name+", another user's link", func(t *testing.T) {
			if _, err := exec.LookPath(sh[0]); err != nil {
				testenv.Missing(t, sh[0]+" is not installed")
			}
			_ = os.Remove(link)
			if err := os.Symlink(theirs, link); err != nil {
				t.Fatal(err)
			}
			if err := os.Lchown(link, 2001, 2001); err != nil {
				t.Fatal(err)
			}
			out, errOut := source(t, sh)
			if want := "/usr/bin:/bin\nunset\nunset\n"; out != want {
				t.Errorf("after .profile.d, PATH, VIA_LINK, PLAIN =\n%s\nwant\n%s\nscript:\n%s", out, want, script)
			}
			for _, w := range []string{link + " exists and belongs to another user (uid 2001)", linkRefused} {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if got, _ := os.Readlink(link); got != theirs {
				t.Errorf("the other user's link was changed to %s", got)
			}
		})
		t.Run(name+", no link yet", func(t *testing.T) {
			if _, err := exec.LookPath(sh[0]); err != nil {
				testenv.Missing(t, sh[0]+" is not installed")
			}
			_ = os.Remove(link)
			out, errOut := source(t, sh)
			want := link + "/abc-app/bin:" + bin + ":/usr/bin:/bin\n" + link + "/abc-app/lib\nx\n"
			if out != want || errOut != "" {
				t.Errorf("after .profile.d, PATH, VIA_LINK, PLAIN =\n%s\nwant\n%s\nstderr: %s", out, want, errOut)
			}
			if got, _ := os.Readlink(link); got != filepath.Join(app, ".nixs") {
				t.Errorf("the link points at %q, want the slug's .nixs", got)
			}
		})
	}
}
