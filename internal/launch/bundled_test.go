package launch_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/launch"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestPRootFindsTheBundledOne: lib/linux-<arch>/ (the Heroku-style tarball)
// before bin/ (a CNB package); none in a buildpack without one.
func TestPRootFindsTheBundledOne(t *testing.T) {
	lib := filepath.Join("lib", "linux-"+runtime.GOARCH, "proot")
	for _, tt := range []struct {
		name  string
		files []string
		want  string
	}{
		{"heroku tarball", []string{lib, "bin/nixbp-launch"}, lib},
		{"cnb package", []string{"bin/proot", "bin/nixbp-launch"}, "bin/proot"},
		{"both", []string{lib, "bin/proot"}, lib},
		{"none (arm64, or a checkout)", []string{"bin/nixbp-launch"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bp := t.TempDir()
			for _, f := range tt.files {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(bp, f)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(bp, f), nil, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			want := ""
			if tt.want != "" {
				want = filepath.Join(bp, tt.want)
			}
			if got := launch.PRoot(bp); got != want {
				t.Fatalf("PRoot = %q, want %q", got, want)
			}
		})
	}
}

// TestLauncherUsesTheBundledPRoot: with no proot on PATH, under a
// Docker-like seccomp profile (no user namespaces, ptrace allowed), the
// launcher runs the app through the static proot beside it, as in the
// launcher layer and the slug's .nix/bin, and says so.
func TestLauncherUsesTheBundledPRoot(t *testing.T) {
	nixDir := testStore(t)
	proot := testenv.BundledPRoot(t)
	dir := t.TempDir()
	for src, name := range map[string]string{buildLauncher(t): "nixbp-launch", proot: "proot"} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := launcher(t, nixDir, "auto", worker("exit.sh", "5"))
	cmd.Path, cmd.Args[0] = filepath.Join(dir, "nixbp-launch"), filepath.Join(dir, "nixbp-launch")
	cmd.Env = append(cmd.Env, "PATH="+bbPath+"/bin:"+testenv.PathWithout(t, "proot"))
	underSeccomp(cmd, false)
	out, err := cmd.CombinedOutput()
	if got := shellStatus(cmd, err); got != 5 {
		t.Fatalf("status %d, want 5\n%s", got, out)
	}
	want := "/nix through proot " + filepath.Join(dir, "proot") + " (bundled)"
	if !strings.Contains(string(out), want) {
		t.Fatalf("output lacks %q:\n%s", want, out)
	}
}
