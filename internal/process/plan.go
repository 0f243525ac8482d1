package process

import (
	"fmt"
	"sort"

	"github.com/nix-buildpack/nix-buildpack/internal/runtimejson"
)

// Declared are the processes and environment an app declares besides
// runtime.json: a Procfile, and hop3.toml's [run] and [env].
type Declared struct {
	// Procfile maps process types to command lines; runtime.json wins.
	Procfile map[string]string
	// Start is hop3.toml [run] start, the web process; it wins over both.
	Start string
	// Workers is hop3.toml [run.workers]; it wins over both.
	Workers map[string]string
	// Env is hop3.toml [env]: defaults the platform's config vars override.
	Env map[string]string
	// TOML names hop3.toml for messages ("hop3.toml", "hop3/hop3.toml").
	TOML string
	// Release is the release task, and ReleaseSource where it was declared.
	Release       []string
	ReleaseSource string
	// Addons are the addons the launcher maps (TYPE or TYPE:NAME).
	Addons []string
}

// Precedence says who wins between a variable and the platform's config
// var (CNB: the platform's env/ directory; Heroku: config vars) of the same
// name.
type Precedence int

const (
	// Default gives way to the platform's config var (hop3.toml [env]).
	Default Precedence = iota
	// Override wins over the platform's config var (runtime.json env).
	Override
)

// Var is one variable of the launch environment.
type Var struct {
	Name, Value string
	Precedence  Precedence
	// Source names where it was declared, for messages.
	Source string
}

// Plan is what the platform starts: processes, web first, and the launch
// environment, sorted by name.
type Plan struct {
	Processes []Process
	Env       []Var
	// Notes are lines for the build log: what became of a static worker,
	// and which declaration replaced which.
	Notes []string
}

// Describe merges the declarations as Hop3 ranks them: a Procfile's process
// types, then runtime.json's workers, then hop3.toml's [run] (start is
// web). The env of runtime.json wins over hop3.toml's [env]; the first
// overrides the platform's config vars, the second gives way to them.
//
// runtime.json's "static" worker is a directory (see runtimejson): without a
// web worker it becomes web, served by the launcher's file server; with one
// it stays the process type "static", not started by default.
//
// The process type cron (Hop3's cron worker) runs its line's command on its
// line's schedule. A release task runs before the default process and
// alone as the process type release. It fails on a cron line that is not a
// schedule and a command.
func Describe(rt runtimejson.Runtime, d Declared, l Launcher) (Plan, error) {
	var p Plan
	workers := map[string]runtimejson.Worker{}
	from := map[string]string{}
	set := func(t string, w runtimejson.Worker, source string) {
		if prev, ok := from[t]; ok {
			p.Notes = append(p.Notes, fmt.Sprintf("process %s: %s replaces %s", t, source, prev))
		}
		workers[t], from[t] = w, source
	}
	for _, t := range sortedKeys(d.Procfile) {
		set(t, runtimejson.Worker{Command: d.Procfile[t]}, "Procfile")
	}
	for _, t := range rt.Types() {
		set(t, rt.Workers[t], "runtime.json")
	}
	if d.Start != "" {
		set("web", runtimejson.Worker{Command: d.Start}, d.TOML+" [run] start")
	}
	for _, t := range sortedKeys(d.Workers) {
		set(t, runtimejson.Worker{Command: d.Workers[t]}, d.TOML+" [run.workers]")
	}
	if s, ok := workers[runtimejson.StaticWorker]; ok && s.Static != "" {
		if _, web := workers["web"]; web {
			p.Notes = append(p.Notes, fmt.Sprintf("worker static: a web process exists, so %s is served by the process type static "+
				"(not started by default; run it on its own PORT if you want it)", s.Static))
		} else {
			delete(workers, runtimejson.StaticWorker)
			workers["web"] = s
			p.Notes = append(p.Notes, fmt.Sprintf("worker static: the web process serves %s with the launcher's file server", s.Static))
		}
	}
	if len(d.Release) > 0 {
		if prev, ok := from[ReleaseType]; ok {
			p.Notes = append(p.Notes, fmt.Sprintf("process %s: the release task (%s) replaces %s", ReleaseType, d.ReleaseSource, prev))
			delete(workers, ReleaseType)
		}
	}
	merged := runtimejson.Runtime{Workers: workers}
	p.Processes = FromRuntime(merged, l)
	if err := p.runtimeFeatures(d, l, from); err != nil {
		return p, err
	}
	p.Env = environment(rt.Env, d.Env, d.TOML)
	return p, nil
}

// environment merges hop3.toml [env] (defaults) and runtime.json env
// (overrides, except PORT); runtime.json wins a name both declare, as in
// Hop3's core/manifest.py.
func environment(runtimeEnv, tomlEnv map[string]string, toml string) []Var {
	var vars []Var
	for _, k := range sortedKeys(tomlEnv) {
		if _, ok := runtimeEnv[k]; !ok {
			vars = append(vars, Var{Name: k, Value: tomlEnv[k], Precedence: Default, Source: toml + " [env]"})
		}
	}
	for _, k := range sortedKeys(runtimeEnv) {
		prec := Override
		if k == "PORT" {
			prec = Default // the platform assigns the port its router reaches
		}
		vars = append(vars, Var{Name: k, Value: runtimeEnv[k], Precedence: prec, Source: "runtime.json env"})
	}
	sort.Slice(vars, func(i, j int) bool { return vars[i].Name < vars[j].Name })
	return vars
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
