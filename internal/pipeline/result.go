package pipeline

import (
	"maps"

	"github.com/nix-buildpack/nix-buildpack/internal/process"
)

// MapStorePaths is r with every store path named for run time (the
// output, runtime.json's env and path, the process lines) passed through
// f: a slug whose closure was relocated names it by its new prefix.
func (r Result) MapStorePaths(f func(string) string) Result {
	r.Output = f(r.Output)
	rt := r.Runtime
	rt.Env = maps.Clone(rt.Env)
	for k, v := range rt.Env {
		rt.Env[k] = f(v)
	}
	rt.Path = append([]string{}, rt.Path...)
	for i, v := range rt.Path {
		rt.Path[i] = f(v)
	}
	r.Runtime = rt
	procs := make([]process.Process, len(r.Processes))
	for i, pr := range r.Processes {
		pr.Static, pr.Line = f(pr.Static), f(pr.Line)
		procs[i] = pr
	}
	r.Processes = procs
	return r
}
