package pipeline

import (
	"maps"

	"github.com/nix-buildpack/nix-buildpack/internal/process"
)

// MapStorePaths is r with every store path named for run time (the
// output, runtime.json's env and path, the launch environment, the process
// lines and static directories) passed through f: a slug or an image whose
// closure was relocated names it by its new prefix. Closure and Graph keep
// the store paths (they describe what was built, for the SBOM and caches).
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
	env := make([]process.Var, len(r.Env))
	for i, v := range r.Env {
		v.Value = f(v.Value)
		env[i] = v
	}
	r.Env = env
	procs := make([]process.Process, len(r.Processes))
	for i, pr := range r.Processes {
		pr.Static, pr.Line = f(pr.Static), f(pr.Line)
		if len(pr.Release) > 0 {
			pr.Release = append([]string{}, pr.Release...)
			for i, c := range pr.Release {
				pr.Release[i] = f(c)
			}
		}
		procs[i] = pr
	}
	r.Processes = procs
	return r
}
