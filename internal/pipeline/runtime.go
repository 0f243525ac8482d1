package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/closure"
	"github.com/nix-buildpack/nix-buildpack/internal/config"
	"github.com/nix-buildpack/nix-buildpack/internal/nixbuild"
	"github.com/nix-buildpack/nix-buildpack/internal/runtimejson"
)

// readRuntime reads $out/hop3/runtime.json, or falls back to the
// expression's workers/env/path attributes; extra are the store paths those
// attributes refer to outside the output's closure, realised.
func readRuntime(in Input, nix Nix, app config.App, output string) (rt runtimejson.Runtime, extra []string, err error) {
	file := output + "/" + runtimejson.RelPath
	data, err := readStoreFile(nix, file)
	if err == nil {
		rt, err = runtimejson.Parse(data, file)
		return rt, nil, err
	}
	if app.Flake {
		return rt, nil, fmt.Errorf("%s: the output %s of %s has no %s\n"+
			"write $out/hop3/runtime.json ({\"workers\": {\"web\": \"<command>\"}}) in the build",
			app.NixFile, output, nixbuild.FlakeRef(app), runtimejson.RelPath)
	}
	attrs, err := nix.Attributes(app, in.Build, in.Log.BodyWriter())
	if err != nil {
		return rt, nil, err
	}
	if attrs.JSON == nil {
		return rt, nil, fmt.Errorf("%s: the output %s has no %s and the expression has no workers attribute\n"+
			"write $out/hop3/runtime.json ({\"workers\": {\"web\": \"<command>\"}}) in the build, or add workers = { web = \"<command>\"; }; beside package",
			app.NixFile, output, runtimejson.RelPath)
	}
	if rt, err = runtimejson.Parse(attrs.JSON, app.NixFile+" (workers/env/path attributes)"); err != nil {
		return rt, nil, err
	}
	if extra, err = outside(nix, output, attrs.StorePaths); err != nil {
		return rt, nil, err
	}
	if len(extra) > 0 {
		in.Log.Bodyf("The workers/env/path attributes refer to %d store paths outside %s's closure; they join the runtime closure: %s",
			len(extra), output, strings.Join(extra, " "))
	}
	return rt, extra, nil
}

// outside returns the paths that are not in output's closure.
func outside(nix Nix, output string, paths []string) ([]string, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	own, err := closure.Runtime(nix, output)
	if err != nil {
		return nil, err
	}
	in := map[string]bool{}
	for _, p := range own {
		in[p] = true
	}
	var out []string
	for _, p := range paths {
		if !in[p] {
			out = append(out, p)
		}
	}
	return out, nil
}

// readStoreFile reads a file under /nix/store from the on-disk store.
func readStoreFile(nix Nix, path string) ([]byte, error) {
	return os.ReadFile(filepath.Join(nix.Dir(), strings.TrimPrefix(path, "/nix/store/")))
}
