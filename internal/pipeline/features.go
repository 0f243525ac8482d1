package pipeline

import (
	"fmt"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/addon"
	"github.com/nix-buildpack/nix-buildpack/internal/config"
	"github.com/nix-buildpack/nix-buildpack/internal/process"
	"github.com/nix-buildpack/nix-buildpack/internal/runtimejson"
)

// Describe is the processes and environment of an app: runtime.json's
// workers and env with what hop3.toml and the Procfile declare (see
// process.Describe), the release task and the addons included.
func Describe(rt runtimejson.Runtime, run config.Run, l Launcher) (process.Plan, error) {
	return process.Describe(rt, process.Declared{Procfile: run.ProcfileWorkers, Start: run.Start, Workers: run.Workers,
		Env: run.Env, TOML: run.TOML, Release: run.Release.Commands, ReleaseSource: run.Release.Source, Addons: launcherAddons(run.Addons)}, l)
}

// launcherAddons are the addons the launcher maps, TYPE or TYPE:NAME, in
// hop3.toml's order (the first of a kind is its primary one).
// A second addon of a kind without a name is the first one again (Hop3
// names both <app>-<type>), so it is left out.
func launcherAddons(addons []config.Addon) []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range addons {
		k, ok := addon.Lookup(a.Type)
		if !ok || seen[k.Name] && a.Name == "" {
			continue
		}
		seen[k.Name] = true
		v := k.Name
		if a.Name != "" {
			v += ":" + a.Name
		}
		out = append(out, v)
	}
	return out
}

// addonNotes say, for each addon, that the platform provides the service
// and which variables the launcher derives from it.
func addonNotes(addons []config.Addon) []string {
	var notes []string
	seen := map[string]bool{}
	for _, a := range addons {
		k, ok := addon.Lookup(a.Type)
		if !ok {
			notes = append(notes, fmt.Sprintf("%s: addon %q: the platform must provide the service and set the variables the app reads "+
				"(the buildpack maps postgres, mysql and redis only)", a.Source, a.Type))
			continue
		}
		prefix := ""
		if seen[k.Name] {
			if a.Name == "" {
				notes = append(notes, fmt.Sprintf("%s: addon %s: a second %s addon without a name is the first one again (Hop3 names both <app>-%s)",
					a.Source, a.Type, k.Name, a.Type))
				continue
			}
			prefix = addon.Prefix(a.Name)
		}
		seen[k.Name] = true
		vars := make([]string, len(k.Vars))
		for i, v := range k.Vars {
			vars[i] = prefix + v
		}
		notes = append(notes, fmt.Sprintf("%s: addon %s: the platform provides the service; at launch nixbp-launch sets %s "+
			"from the platform's %s%s (as Heroku's add-ons set it), else from a service binding of type %s under $SERVICE_BINDING_ROOT%s; "+
			"a variable the platform sets is kept", a.Source, a.Type, strings.Join(vars, ", "), prefix, k.URLVar, k.BindingTypes[0], named(a.Name)))
	}
	return notes
}

func named(name string) string {
	if name == "" {
		return ""
	}
	return " (the one named " + name + " first)"
}
