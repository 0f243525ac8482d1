package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/caching"
	"github.com/nix-buildpack/nix-buildpack/internal/config"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/runtimejson"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// restoredDir, under Input.NixDir, keeps what runWithoutNix restored
// between builds (a caching.PlainStore).
const restoredDir = "restored"

// runWithoutNix is Run's branch for a hit of the source pointer: the
// output it names and its closure are restored from the caches into a
// plain directory (verified as ever, no Nix database), runtime.json is read
// from there, and the closure goes to the target. Nix is neither
// installed nor run, so this works where no /nix strategy can (a Heroku
// dyno). ok is false when the pointer misses, or the output has no
// runtime.json (its attributes need Nix): Run then goes on with Nix.
func runWithoutNix(in Input, app config.App, run config.Run, target Target) (Result, bool, error) {
	if in.Caches.Policy == settings.BuildAlways || !in.Caches.Any() || in.SourceDigest == "" {
		return Result{}, false, nil
	}
	in.Log.Headerf("Looking up this source in the caches (build policy: %s)", in.Caches.Policy)
	start := time.Now()
	store := caching.PlainStore{Dir: filepath.Join(in.NixDir, restoredDir)}
	r, err := in.Caches.RestoreByPointer(context.Background(), store, in.SourceDigest, in.Log.BodyWriter())
	if err != nil || r == nil {
		return Result{}, false, err
	}
	file := r.Output + "/" + runtimejson.RelPath
	data, err := os.ReadFile(filepath.Join(store.Dir, strings.TrimPrefix(file, "/nix/")))
	if err != nil {
		in.Log.Bodyf("%s has no %s: Nix reads the expression's attributes instead", r.Output, runtimejson.RelPath)
		return Result{}, false, nil
	}
	rt, err := runtimejson.Parse(data, file)
	if err != nil {
		return Result{}, true, err
	}
	in.Log.Bodyf("Restored %s by the source digest, without evaluating Nix: 0 Nix builds; Nix neither installed nor run (%d store paths in %s)",
		r.Output, len(r.Closure), time.Since(start).Round(time.Millisecond))
	res, err := deliver(in, delivery{root: store.Dir, app: app, run: run, output: r.Output, paths: r.Closure, rt: rt, graph: r.Graph}, target)
	if err != nil {
		return Result{}, true, err
	}
	if err := store.Keep(r.Closure); err != nil {
		in.Log.Bodyf("warning: %v", err)
	}
	return res, true, nil
}

// withoutNixHint adds to a failure to make /nix usable what a platform
// that cannot run Nix needs: a build of this source in the caches, made
// where Nix runs.
func withoutNixHint(in Input, app config.App, err error) error {
	var ns *nixmount.NoStrategyError
	if !errors.As(err, &ns) {
		return err
	}
	where := "no cache is configured (BP_NIX_CACHE)"
	if in.Caches.Any() {
		where = "the caches hold no build of this source"
	}
	return fmt.Errorf("%w\n\nNix cannot run here, and %s. Build it where Nix runs (CI, any Linux machine) and push it, "+
		"then deploy the same source again with BP_NIX_CACHE set to that cache:\n"+
		"  bin/compile BUILD_DIR CACHE_DIR ENV_DIR   with BP_NIX_CACHE=<url> in ENV_DIR (pushes the closure and the source pointer), or\n"+
		"  nixbp cache push --cache <url> --app . $(nix-build %s -A package --no-out-link)",
		err, where, app.NixFile)
}
