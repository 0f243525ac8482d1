package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/config"
)

// TestRuntimeSections reads what Hop3 does around the processes: the
// release task and its precedence, hooks, cron lines, [[addons]], the [env]
// values Hop3's server fills and [healthcheck], with the malformed cases.
func TestRuntimeSections(t *testing.T) {
	tests := []struct {
		name        string
		files       map[string]string
		release     config.ReleaseTask
		addons      []config.Addon
		healthcheck *config.Healthcheck
		procfile    map[string]string // ProcfileWorkers left
		notes       []string          // each must appear among the notes
		err         string
	}{
		{name: "before-run as a list", files: map[string]string{"hop3.toml": "[run]\nstart = \"serve\"\nbefore-run = [\"migrate\", \"collectstatic --noinput\"]\n"},
			release: config.ReleaseTask{Commands: []string{"migrate", "collectstatic --noinput"}, Source: "hop3.toml:3 [run] before-run"}},
		{name: "before-run as a string", files: map[string]string{"hop3.toml": "[run]\nbefore-run = \"migrate\"\n"},
			release: config.ReleaseTask{Commands: []string{"migrate"}, Source: "hop3.toml:2 [run] before-run"}},
		{name: "Procfile prerun is the release task, not a process", files: map[string]string{"Procfile": "web: serve\nprerun: migrate\n"},
			release: config.ReleaseTask{Commands: []string{"migrate"}, Source: "Procfile:2 prerun"}, procfile: map[string]string{"web": "serve"}},
		{name: "Heroku's release line is the release task", files: map[string]string{"Procfile": "release: migrate\nweb: serve\n"},
			release: config.ReleaseTask{Commands: []string{"migrate"}, Source: "Procfile:1 release"}, procfile: map[string]string{"web": "serve"}},
		{name: "before-run > [run.workers] prerun > Procfile prerun > release",
			files: map[string]string{"Procfile": "web: serve\nprerun: pf-prerun\nrelease: pf-release\nprebuild: npm ci\npostbuild: npm run build\n",
				"hop3.toml": "[run]\nbefore-run = \"toml\"\n\n[run.workers]\nprerun = \"toml-prerun\"\n"},
			release:  config.ReleaseTask{Commands: []string{"toml"}, Source: "hop3.toml:2 [run] before-run"},
			procfile: map[string]string{"web": "serve"},
			notes: []string{"release task: hop3.toml:2 [run] before-run replaces hop3.toml:5 [run.workers] prerun",
				"release task: hop3.toml:2 [run] before-run replaces Procfile:2 prerun",
				"release task: hop3.toml:2 [run] before-run replaces Procfile:3 release",
				"Procfile:4 prebuild: a build hook Hop3's server runs around its own build; not run by the buildpack",
				"Procfile:5 postbuild: a build hook"}},
		{name: "an empty before-run list is none", files: map[string]string{"hop3.toml": "[run]\nbefore-run = []\n", "Procfile": "prerun: m\n"},
			release: config.ReleaseTask{Commands: []string{"m"}, Source: "Procfile:1 prerun"}, procfile: map[string]string{}},
		{name: "cron line", files: map[string]string{"Procfile": "cron: */5 * * * * python manage.py clearsessions\n"},
			procfile: map[string]string{"cron": "*/5 * * * * python manage.py clearsessions"}},
		{name: "addons, legacy name-as-type, provider ignored when addons exist",
			files: map[string]string{"hop3.toml": "[[addons]]\ntype = \"postgres\"\n\n[[addons]]\ntype = \"redis\"\nname = \"cache\"\n\n" +
				"[[addons]]\nname = \"mysql\"\n\n[[provider]]\nname = \"mongodb\"\n"},
			addons: []config.Addon{{Type: "postgres", Source: "hop3.toml:1 [[addons]]"}, {Type: "redis", Name: "cache", Source: "hop3.toml:4 [[addons]]"},
				{Type: "mysql", Source: "hop3.toml:8 [[addons]]"}}},
		{name: "provider when there are no addons", files: map[string]string{"hop3.toml": "[[provider]]\ntype = \"postgresql\"\n"},
			addons: []config.Addon{{Type: "postgresql", Source: "hop3.toml:1 [[provider]]"}}},
		{name: "env tables Hop3 fills are named", files: map[string]string{"hop3.toml": "[env]\nPLAIN = \"x\"\n" +
			"SECRET_KEY_BASE = { generate = \"hex\", length = 64 }\nAPP_KEY = { generate = \"base64\", prefix = \"base64:\" }\n" +
			"DB = { from = \"main-db\", key = \"DATABASE_URL\" }\nHOST = { key = \"domain\" }\n\n[env.computed]\nAPP_URL = \"https://${HOST}/\"\n"},
			notes: []string{
				`hop3.toml:4: [env] APP_KEY = { generate = "base64", prefix = "base64:" } is filled by Hop3's server, not by a buildpack: set APP_KEY on the platform (a config var, ` +
					"`docker run -e`, a Kubernetes Secret), generated once: \"base64:\" followed by the output of `openssl rand -base64 32`",
				`hop3.toml:5: [env] DB = { from = "main-db", key = "DATABASE_URL" } is filled by Hop3's server, not by a buildpack: set DB on the platform`,
				`, to the DATABASE_URL of the service the addon "main-db" stands for`,
				`hop3.toml:6: [env] HOST = { key = "domain" } is filled by Hop3's server`, "to the app's domain",
				`hop3.toml:3: [env] SECRET_KEY_BASE = { generate = "hex", length = 64 }`, "generated once, e.g. with `openssl rand -hex 32`",
				`hop3.toml:9: [env.computed] APP_URL = "https://${HOST}/" is expanded by Hop3's server at deploy, not by a buildpack: set APP_URL on the platform`}},
		{name: "healthcheck", files: map[string]string{"hop3.toml": "[healthcheck]\npath = \"/health\"\ninterval = 10\ntimeout = 5\nretries = 3\ncontains = \"ok\"\n"},
			healthcheck: &config.Healthcheck{Path: "/health", Contains: "ok", Interval: 10, Timeout: 5, Retries: 3, Source: "hop3.toml:1 [healthcheck]"}},
		{name: "[run] healthcheck", files: map[string]string{"hop3.toml": "[run]\nhealthcheck = \"/up\"\nhealthcheck-timeout = 20\n"},
			healthcheck: &config.Healthcheck{Path: "/up", Timeout: 20, Source: "hop3.toml:2 [run] healthcheck"}},

		{name: "before-run of the wrong type", files: map[string]string{"hop3.toml": "[run]\nbefore-run = 3\n"},
			err: "hop3.toml:2: [run] before-run must be a command line or a list of them, got integer"},
		{name: "before-run list holding a number", files: map[string]string{"hop3.toml": "[run]\nbefore-run = [\"a\", 2]\n"},
			err: "hop3.toml:2: [run] before-run must be a command line or a list of them, got a list holding integer"},
		{name: "empty before-run command", files: map[string]string{"hop3.toml": "[run]\nbefore-run = [\" \"]\n"},
			err: "hop3.toml:2: [run] before-run holds an empty command line"},
		{name: "cron without a command", files: map[string]string{"Procfile": "web: serve\ncron: */5 * * * *\n"},
			err: `Procfile:2: cron: expected a schedule and a command`},
		{name: "cron with a bad field", files: map[string]string{"hop3.toml": "[run.workers]\ncron = \"*/5 25 * * * tick\"\n"},
			err: `hop3.toml:2: [run.workers] cron: schedule "*/5 25 * * *"`},
		{name: "addon without type or name", files: map[string]string{"hop3.toml": "[[addons]]\ntype = \"redis\"\n\n[[addons]]\nextensions = [\"postgis\"]\n"},
			err: "hop3.toml:4: [[addons]] entry 2 has neither type nor name"},
		{name: "addon type not a string", files: map[string]string{"hop3.toml": "[[addons]]\ntype = 5\n"},
			err: "hop3.toml:1: [[addons]] type must be a non-empty string, got integer"},
		{name: "addons not tables", files: map[string]string{"hop3.toml": "addons = \"postgres\"\n"},
			err: "hop3.toml:1: addons must be an array of tables, got string"},
		{name: "healthcheck interval not a number", files: map[string]string{"hop3.toml": "[healthcheck]\npath = \"/h\"\ninterval = \"10s\"\n"},
			err: "hop3.toml:3: [healthcheck] interval must be a positive integer, got 10s (string)"},
		{name: "healthcheck path without /", files: map[string]string{"hop3.toml": "[healthcheck]\npath = \"health\"\n"},
			err: `hop3.toml:1 [healthcheck]: path "health" must start with /`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tt.files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := config.ReadRun(dir)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ReadRun() error = %v; want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadRun() error = %v", err)
			}
			if !reflect.DeepEqual(got.Release, tt.release) {
				t.Errorf("Release = %+v, want %+v", got.Release, tt.release)
			}
			if !reflect.DeepEqual(got.Addons, tt.addons) {
				t.Errorf("Addons = %+v, want %+v", got.Addons, tt.addons)
			}
			if !reflect.DeepEqual(got.Healthcheck, tt.healthcheck) {
				t.Errorf("Healthcheck = %+v, want %+v", got.Healthcheck, tt.healthcheck)
			}
			if tt.procfile != nil && !reflect.DeepEqual(got.ProcfileWorkers, tt.procfile) {
				t.Errorf("ProcfileWorkers = %v, want %v", got.ProcfileWorkers, tt.procfile)
			}
			all := strings.Join(got.Notes, "\n")
			for _, n := range tt.notes {
				if !strings.Contains(all, n) {
					t.Errorf("notes lack %q:\n%s", n, all)
				}
			}
		})
	}
}
