package process_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/process"
	"github.com/nix-buildpack/nix-buildpack/internal/runtimejson"
)

// proc is a process of the test launcher, for short table entries.
func proc(t, line, static string, def bool) process.Process {
	return process.Process{Type: t, Launcher: "/l/nixbp-launch", NixDir: "/l/nix", Line: line, Static: static, Default: def}
}

func withCron(p process.Process, spec string) process.Process { p.Cron = spec; return p }

func withAddons(p process.Process, addons ...string) process.Process { p.Addons = addons; return p }

// withRelease gives p the release task migrate, seed.
func withRelease(p process.Process, byPlatform bool, addons ...string) process.Process {
	p.Release, p.Addons = []string{"migrate", "seed"}, addons
	p.ReleaseByPlatform = byPlatform && p.Type != "release"
	return p
}

func TestDescribeProcesses(t *testing.T) {
	const site = "/nix/store/wq3v0j1ljw665pm8i3g7gx2744sp03py-site/public"
	tests := []struct {
		name    string
		workers map[string]runtimejson.Worker
		decl    process.Declared
		want    []process.Process
		notes   []string
		// releasePhase: the platform runs the process type release (Heroku).
		releasePhase bool
		err          string
	}{
		{name: "static site: the only worker becomes web",
			workers: map[string]runtimejson.Worker{"static": {Static: site}},
			want:    []process.Process{proc("web", "", site, true)},
			notes:   []string{"worker static: the web process serves " + site + " with the launcher's file server"}},
		{name: "static site beside other workers is web",
			workers: map[string]runtimejson.Worker{"static": {Static: site}, "worker": {Command: "q"}},
			want:    []process.Process{proc("web", "", site, true), proc("worker", "q", "", false)},
			notes:   []string{"worker static: the web process serves " + site + " with the launcher's file server"}},
		{name: "static site beside a web worker stays its own type",
			workers: map[string]runtimejson.Worker{"static": {Static: site}, "web": {Command: "serve"}},
			want:    []process.Process{proc("web", "serve", "", true), proc("static", "", site, false)},
			notes:   []string{"worker static: a web process exists, so " + site + " is served by the process type static"}},
		{name: "[run] start is a web process beside a static worker",
			workers: map[string]runtimejson.Worker{"static": {Static: site}},
			decl:    process.Declared{Start: "serve", TOML: "hop3.toml"},
			want:    []process.Process{proc("web", "serve", "", true), proc("static", "", site, false)},
			notes:   []string{"worker static: a web process exists"}},
		{name: "Procfile < runtime.json < [run]",
			workers: map[string]runtimejson.Worker{"web": {Command: "rt-web"}, "worker": {Command: "rt-worker"}},
			decl: process.Declared{Procfile: map[string]string{"web": "pf-web", "clock": "pf-clock", "worker": "pf-worker"},
				Workers: map[string]string{"worker": "toml-worker"}, TOML: "hop3.toml"},
			want: []process.Process{proc("web", "rt-web", "", true), proc("clock", "pf-clock", "", false), proc("worker", "toml-worker", "", false)},
			notes: []string{"process web: runtime.json replaces Procfile", "process worker: runtime.json replaces Procfile",
				"process worker: hop3.toml [run.workers] replaces runtime.json"}},
		{name: "[run] start replaces runtime.json's web",
			workers: map[string]runtimejson.Worker{"web": {Command: "rt-web"}},
			decl:    process.Declared{Start: "toml-web", TOML: "hop3/hop3.toml"},
			want:    []process.Process{proc("web", "toml-web", "", true)},
			notes:   []string{"process web: hop3/hop3.toml [run] start replaces runtime.json"}},
		{name: "cron: the schedule is split from the command",
			workers: map[string]runtimejson.Worker{"web": {Command: "serve"}},
			decl:    process.Declared{Procfile: map[string]string{"cron": "*/5 * * * * python manage.py clearsessions"}},
			want: []process.Process{proc("web", "serve", "", true),
				withCron(proc("cron", "python manage.py clearsessions", "", false), "*/5 * * * *")},
			notes: []string{`process cron: nixbp-launch runs "python manage.py clearsessions" on the schedule "*/5 * * * *"`}},
		{name: "cron from runtime.json without a command",
			workers: map[string]runtimejson.Worker{"cron": {Command: "@hourly"}},
			err:     "runtime.json cron: expected a schedule and a command"},
		{name: "release task before web, and alone; addons on every process",
			workers: map[string]runtimejson.Worker{"web": {Command: "serve"}, "worker": {Command: "q"}},
			decl:    process.Declared{Release: []string{"migrate", "seed"}, ReleaseSource: "hop3.toml:3 [run] before-run", Addons: []string{"postgres"}},
			want: []process.Process{withRelease(proc("web", "serve", "", true), false, "postgres"), withAddons(proc("worker", "q", "", false), "postgres"),
				withRelease(proc("release", "", "", false), false, "postgres")},
			notes: []string{"release task (hop3.toml:3 [run] before-run): 2 command(s); nixbp-launch runs it before the web process starts, " +
				"and a failure stops the start (no CNB platform phase runs it); the process type release runs it alone"}},
		{name: "release task on a platform with a release phase; it replaces a worker named release",
			workers:      map[string]runtimejson.Worker{"web": {Command: "serve"}, "release": {Command: "old"}},
			decl:         process.Declared{Release: []string{"migrate", "seed"}, ReleaseSource: "Procfile:2 prerun"},
			releasePhase: true,
			want: []process.Process{withRelease(proc("web", "serve", "", true), true),
				withRelease(proc("release", "", "", false), true)},
			notes: []string{"process release: the release task (Procfile:2 prerun) replaces runtime.json",
				"release task (Procfile:2 prerun): 2 command(s); it is the Procfile's release process type, which Heroku and Dokku run"}},
		{name: "object form of a static worker under another name",
			workers: map[string]runtimejson.Worker{"web": {Static: site}},
			want:    []process.Process{proc("web", "", site, true)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := process.Describe(runtimejson.Runtime{Workers: tt.workers}, tt.decl,
				process.Launcher{Path: "/l/nixbp-launch", NixDir: "/l/nix", ReleasePhase: tt.releasePhase})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Describe() error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(plan.Processes, tt.want) {
				t.Fatalf("Processes =\n%+v\nwant\n%+v", plan.Processes, tt.want)
			}
			if len(plan.Notes) != len(tt.notes) {
				t.Fatalf("Notes = %q, want %d notes like %q", plan.Notes, len(tt.notes), tt.notes)
			}
			for i, n := range tt.notes {
				if !strings.HasPrefix(plan.Notes[i], n) {
					t.Errorf("note %d = %q, want it to start with %q", i, plan.Notes[i], n)
				}
			}
		})
	}
}

func TestDescribeEnv(t *testing.T) {
	rt := runtimejson.Runtime{Workers: map[string]runtimejson.Worker{"web": {Command: "x"}},
		Env: map[string]string{"BOTH": "runtime", "ONLY_RT": "r", "PORT": "9000"}}
	decl := process.Declared{Env: map[string]string{"BOTH": "toml", "ONLY_TOML": "t"}, TOML: "hop3.toml"}
	plan, err := process.Describe(rt, decl, process.Launcher{})
	if err != nil {
		t.Fatal(err)
	}
	got := plan.Env
	want := []process.Var{
		{Name: "BOTH", Value: "runtime", Precedence: process.Override, Source: "runtime.json env"},
		{Name: "ONLY_RT", Value: "r", Precedence: process.Override, Source: "runtime.json env"},
		{Name: "ONLY_TOML", Value: "t", Precedence: process.Default, Source: "hop3.toml [env]"},
		{Name: "PORT", Value: "9000", Precedence: process.Default, Source: "runtime.json env"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Env =\n%+v\nwant\n%+v", got, want)
	}
}
