package pipeline

import (
	"errors"
	"fmt"
	"path"
	"sort"

	"github.com/nix-buildpack/nix-buildpack/internal/guard"
	"github.com/nix-buildpack/nix-buildpack/internal/prune"
	"github.com/nix-buildpack/nix-buildpack/internal/runtimejson"
)

// guardClosure fails the build when pruning removed a path runtime.json names or
// one that a kept path references.
func guardClosure(in Input, rep *prune.Report, refs map[string][]string, rt runtimejson.Runtime) error {
	if rep == nil {
		return nil
	}
	err := guard.Guard(rep, Needs(rt), refs)
	var ge *guard.Error
	if errors.As(err, &ge) && in.Prune.Unguarded {
		in.Log.Bodyf("warning (guard off): %v", err)
		return nil
	}
	return err
}

// Needs lists the store paths (or files inside them) that runtime.json's
// workers, env and path name. A worker's command is read as the launcher's
// shell reads it (quotes, escapes, ${VAR:-default}); a static directory,
// env values and path entries are plain strings.
func Needs(rt runtimejson.Runtime) []guard.Need {
	var needs []guard.Need
	add := func(paths []string, by string) {
		for _, p := range paths {
			needs = append(needs, guard.Need{Path: p, By: by})
		}
	}
	for _, t := range rt.Types() {
		w := rt.Workers[t]
		by := "runtime.json workers." + t
		if w.Static != "" {
			if _, err := prune.StoreRel(w.Static); err == nil {
				add([]string{path.Clean(w.Static)}, by) // the whole string: a directory name may hold spaces
			}
			continue
		}
		add(guard.CommandStorePaths(w.Command), by)
	}
	keys := make([]string, 0, len(rt.Env))
	for k := range rt.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		add(guard.TextStorePaths(rt.Env[k]), "runtime.json env."+k)
	}
	for i, p := range rt.Path {
		add(guard.TextStorePaths(p), fmt.Sprintf("runtime.json path[%d]", i))
	}
	return needs
}
