package heroku

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/process"
)

// TestRewriteHop3Lines keeps the app's Procfile but for the lines in Hop3's
// forms a Heroku-style platform would misread, and puts it back on a
// later compile in the same directory.
func TestRewriteHop3Lines(t *testing.T) {
	procs, err := process.Describe(testRuntime, process.Declared{Procfile: map[string]string{"cron": "*/5 * * * * tick --all"},
		Release: []string{"migrate"}, ReleaseSource: "Procfile:3 prerun"}, slugLauncher)
	if err != nil {
		t.Fatal(err)
	}
	lines := processLines(procs.Processes)
	ours := map[string]string{}
	for _, l := range lines {
		ours[l[0]] = l[1]
	}
	if !strings.Contains(ours["cron"], `--cron '*/5 * * * *' -- 'tick --all'`) || !strings.Contains(ours["release"], "--release migrate") {
		t.Fatalf("plan lines: %q", lines)
	}
	tests := []struct {
		name, procfile, source, want string
		log                          string
	}{
		{name: "cron and prerun", procfile: "web: gunicorn app\n# a comment: here\ncron: */5 * * * * tick --all\nprerun: migrate\n",
			source: "Procfile:4 prerun",
			want:   "web: gunicorn app\n# a comment: here\ncron: " + ours["cron"] + "\nrelease: " + ours["release"] + "\n",
			log:    "Rewrote in the app's Procfile: cron (its schedule is now an argument of nixbp-launch, never a command); prerun"},
		{name: "Heroku's own release line stays", procfile: "web: serve\nrelease: migrate\n", source: "Procfile:2 release"},
		{name: "before-run replaces the app's release line", procfile: "release: old\nweb: serve\n", source: "hop3.toml:3 [run] before-run",
			want: "web: serve\nrelease: " + ours["release"] + "\n", log: "release (the release task through nixbp-launch)"},
		{name: "nothing in Hop3's forms", procfile: "web: run_result.sh bin/web\n", source: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := writeFile(filepath.Join(dir, "Procfile"), tt.procfile, 0o644); err != nil {
				t.Fatal(err)
			}
			var log strings.Builder
			target := &slugTarget{buildDir: dir, log: NewLogger(&log)}
			planLines := lines
			if tt.source == "" {
				planLines = [][2]string{{"web", ours["web"]}}
			}
			if err := target.rewriteHop3Lines(planLines, tt.source); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(filepath.Join(dir, "Procfile"))
			want := tt.want
			if want == "" {
				want = tt.procfile
				if _, err := os.Stat(filepath.Join(dir, appProcfile)); err == nil {
					t.Errorf("%s written though nothing was rewritten", appProcfile)
				}
			}
			if string(got) != want {
				t.Fatalf("Procfile =\n%s\nwant\n%s", got, want)
			}
			if !strings.Contains(log.String(), tt.log) {
				t.Errorf("log lacks %q:\n%s", tt.log, log.String())
			}
			restoreAppProcfile(dir)
			if back, _ := os.ReadFile(filepath.Join(dir, "Procfile")); string(back) != tt.procfile {
				t.Errorf("after restoreAppProcfile: %q, want the app's %q", back, tt.procfile)
			}
		})
	}
}
