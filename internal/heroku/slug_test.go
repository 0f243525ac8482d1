package heroku

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/pipeline"
	"github.com/nix-buildpack/nix-buildpack/internal/process"
	"github.com/nix-buildpack/nix-buildpack/internal/profiled"
	"github.com/nix-buildpack/nix-buildpack/internal/runtimejson"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

var testRuntime = runtimejson.Runtime{
	Workers: map[string]runtimejson.Worker{
		"web":    {Command: `busybox httpd -f -p "$BIND_ADDRESS:$PORT" -h /nix/store/abc-site/www`},
		"docs":   {Static: "/nix/store/abc-site/docs"},
		"worker": {Command: "echo it's $HOME"},
	},
	Env:  map[string]string{"GREETING": "it's me", "PORT": "9999", "MODE": "prod"},
	Path: []string{"/nix/store/abc-bb/bin"},
}

func TestProcessLinesAndRelease(t *testing.T) {
	lines := processLines(process.FromRuntime(testRuntime, slugLauncher))
	want := [][2]string{
		{"web", `$NIXBP_NIX_DIR/bin/nixbp-launch --nix-dir "$NIXBP_NIX_DIR" -- 'busybox httpd -f -p "$BIND_ADDRESS:$PORT" -h /nix/store/abc-site/www'`},
		{"docs", `$NIXBP_NIX_DIR/bin/nixbp-launch --nix-dir "$NIXBP_NIX_DIR" --static /nix/store/abc-site/docs`},
		{"worker", `$NIXBP_NIX_DIR/bin/nixbp-launch --nix-dir "$NIXBP_NIX_DIR" -- 'echo it'\''s $HOME'`},
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d = %s\nwant       %s", i, lines[i], want[i])
		}
	}
	yml := releaseYAML(lines[:1], false)
	wantYAML := "---\ndefault_process_types:\n  web: \"$NIXBP_NIX_DIR/bin/nixbp-launch --nix-dir \\\"$NIXBP_NIX_DIR\\\" -- 'busybox httpd -f -p \\\"$BIND_ADDRESS:$PORT\\\" -h /nix/store/abc-site/www'\"\n"
	if yml != wantYAML {
		t.Errorf("release YAML =\n%s\nwant\n%s", yml, wantYAML)
	}
	if got := releaseYAML(lines, true); got != "--- {}\n" {
		t.Errorf("release YAML with the app's Procfile = %q", got)
	}
}

// TestProfileInBash sources .profile.d/nix.sh in bash as the platforms do,
// in the app root, with config vars and PORT set by the platform:
// runtime.json's env overrides config vars, hop3.toml's [env] gives way to
// them, PORT stays the platform's, and a hostile PATH entry stays data.
func TestProfileInBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		testenv.Missing(t, "bash is not installed")
	}
	app := t.TempDir()
	pwned := filepath.Join(app, "pwned")
	rt := testRuntime
	rt.Path = []string{"/nix/store/abc-bb/bin", "/x\"; touch " + pwned + "; echo \"", "/$(touch " + pwned + ")"}
	plan, err := process.Describe(rt, process.Declared{Env: map[string]string{"FROM_TOML": "toml", "SET_BY_PLATFORM": "toml", "MODE": "toml"},
		TOML: "hop3.toml"}, slugLauncher)
	if err != nil {
		t.Fatal(err)
	}
	script, err := profile(pipeline.Result{Runtime: rt, Env: plan.Env}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFile(filepath.Join(app, ProfileScript), script, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bash, "-c", `for f in .profile.d/*.sh; do . "$f"; done; `+
		`printf '%s\n' "$NIXBP_NIX_DIR" "$PATH" "$GREETING" "$PORT" "$MODE" "$FROM_TOML" "$SET_BY_PLATFORM"`)
	cmd.Dir = app
	cmd.Env = []string{"PATH=/usr/bin:/bin", "PORT=5000", "MODE=staging", "SET_BY_PLATFORM=platform"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	want := []string{app + "/.nix", strings.Join(rt.Path, ":") + ":" + app + "/.nix/bin:/usr/bin:/bin", "it's me", "5000", "prod", "toml", "platform"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("after .profile.d:\n%q\nwant\n%q", got, want)
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Fatal("sourcing the profile ran a command from a runtime.json path entry")
	}
}

func TestCheckBuildDir(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		err   string
	}{
		{name: "fresh app"},
		{name: "app's own .nix", files: map[string]string{".nix/shell.nix": "{}"}, err: ".nix already exists in the app and was not written by nix-buildpack"},
		{name: "earlier compile", files: map[string]string{markerFile: "x\n", ProfileScript: profiled.Header + ": ...\n"}},
		{name: "app's own nix.sh", files: map[string]string{ProfileScript: "export A=1\n"}, err: ".profile.d/nix.sh already exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for p, c := range tc.files {
				if err := writeFile(filepath.Join(dir, p), c, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := checkBuildDir(dir)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("checkBuildDir = %v, want %q", err, tc.err)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	apps := filepath.Join("..", "..", "fixtures", "apps")
	empty := t.TempDir()
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "hop3.toml"), []byte("[build]\nbuilder = \"python\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dir            string
		code           int
		stdout, stderr string
	}{
		{dir: filepath.Join(apps, "hello-web"), code: 0, stdout: "Nix\n"},
		{dir: empty, code: 1},
		{dir: other, code: 1},
		{dir: filepath.Join(apps, "bad-toml"), code: 1, stderr: " !     hop3.toml:5: [build.nix] file must be a non-empty string, got integer"},
	} {
		var stdout, stderr strings.Builder
		code := Detect(tc.dir, &stdout, &stderr)
		if code != tc.code || stdout.String() != tc.stdout || !strings.HasPrefix(stderr.String(), tc.stderr) || tc.stderr == "" && stderr.Len() > 0 {
			t.Errorf("Detect(%s) = %d, stdout %q, stderr %q; want %d, %q, %q", tc.dir, code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.stderr)
		}
	}
}
