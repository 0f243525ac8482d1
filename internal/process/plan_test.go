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

func TestDescribeProcesses(t *testing.T) {
	const site = "/nix/store/wq3v0j1ljw665pm8i3g7gx2744sp03py-site/public"
	tests := []struct {
		name    string
		workers map[string]runtimejson.Worker
		decl    process.Declared
		want    []process.Process
		notes   []string
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
		{name: "object form of a static worker under another name",
			workers: map[string]runtimejson.Worker{"web": {Static: site}},
			want:    []process.Process{proc("web", "", site, true)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := process.Describe(runtimejson.Runtime{Workers: tt.workers}, tt.decl,
				process.Launcher{Path: "/l/nixbp-launch", NixDir: "/l/nix"})
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
	got := process.Describe(rt, decl, process.Launcher{}).Env
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
