// Package pipeline is the one build pipeline both front-ends (CNB and
// Heroku-style) adapt: read config, make /nix usable, restore or build,
// take the runtime closure, prune it into the target, describe processes,
// emit.
package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/caching"
	"github.com/nix-buildpack/nix-buildpack/internal/closure"
	"github.com/nix-buildpack/nix-buildpack/internal/config"
	"github.com/nix-buildpack/nix-buildpack/internal/nixbuild"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/process"
	"github.com/nix-buildpack/nix-buildpack/internal/runtimejson"
	"github.com/nix-buildpack/nix-buildpack/internal/sbom"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
	"github.com/nix-buildpack/nix-buildpack/internal/storegc"
	"github.com/nix-buildpack/nix-buildpack/internal/storelock"
)

// Input is what a front-end hands the pipeline.
type Input struct {
	// AppDir is the application's source.
	AppDir string
	// NixDir holds Nix's store between builds (a cache layer, CACHE_DIR).
	NixDir string
	// Installer is the Nix installer tarball, installed into NixDir when it
	// lacks it (the Nix the build runs is pipeline.Nix).
	Installer nixinstall.Tarball
	// Strategy is the /nix strategy to use at build time (Auto tries all).
	Strategy nixmount.Strategy
	// NixConf is the Nix configuration to write. Its Nixpkgs is resolved
	// here, from Nixpkgs or hop3.toml; the closure caches' read URLs are
	// added to its ExtraSubstituters.
	NixConf nixinstall.Conf
	// Nixpkgs is the nixpkgs setting (channel:<name>, a URL or a path in the
	// app); hop3.toml's [build.nix] nixpkgs wins over it.
	Nixpkgs string
	// NixpkgsSet says Nixpkgs was set by the user: it then replaces the
	// nixpkgs a [nix] template pins.
	NixpkgsSet bool
	// FlakeAttr is the flake output to build when hop3.toml has no
	// [build.nix] attr ("": packages.<system>.default).
	FlakeAttr string
	// Build says how nix-build runs (extra arguments, time limits).
	Build nixbuild.Options
	// Caches are the binary caches to restore from and push to.
	Caches caching.Caches
	// SourceDigest is the app source's digest (caching.SourceDigest), the
	// key of the caches' source pointers, computed once (NewInput); "" when
	// no cache can use it.
	SourceDigest string
	// Prune says how the closure is pruned into the target.
	Prune settings.Prune
	// StoreGC says whether and how NixDir's store is collected after the build.
	StoreGC storegc.Options
	// Secrets are where the platform keeps what the build's Nix must not
	// read: hidden from it where the /nix strategy allows.
	Secrets Secrets
	// Log receives the build log.
	Log log.Logger

	// useNix makes Nix usable in NixDir: installNix, or a fake in tests.
	useNix func(Input) (Nix, error)
}

// Target is where a front-end puts the result: a CNB launch layer, or a
// Heroku slug.
type Target interface {
	// ClosureDir returns the directory that is to hold store/ for a closure
	// identified by key, and whether an earlier build's copy is still there.
	ClosureDir(key string) (dir string, reused bool, err error)
	// Launcher says how processes reach the launcher and the closure at run time.
	Launcher() Launcher
	// Emit records the processes and environment.
	Emit(Result) error
}

// Result is what the pipeline produced.
type Result struct {
	App    config.App
	Output string
	// Extra are store paths outside Output's closure that the app refers to
	// (its workers/env/path attributes' string context); their closures are
	// in Closure.
	Extra     []string
	Closure   []string
	Runtime   runtimejson.Runtime
	Processes []process.Process
	// Env is the launch environment: runtime.json env (overriding the
	// platform's config vars) and hop3.toml [env] (giving way to them).
	Env []process.Var
	// Graph holds the closure's database records: references, NAR hashes
	// and sizes.
	Graph closure.Graph
	// ExcludeDigest identifies the app's .slugexclude, for cache keys.
	ExcludeDigest string
	// Healthcheck is hop3.toml's [healthcheck], nil when none: the CNB
	// front-end carries it as an image label.
	Healthcheck *config.Healthcheck
	// ReleaseSource says where the release task was declared ("" when
	// there is none), e.g. "Procfile:3 release".
	ReleaseSource string
	// Provenance is what the closure was built from, for the SBOM.
	Provenance sbom.Provenance
}

// Run builds the app and hands its runtime closure and processes to
// target. Each line is one step; each step lives in its own package.
func Run(in Input, target Target) (Result, error) {
	app, run, err := readConfig(in)
	if err != nil {
		return Result{}, err
	}
	lock, err := storelock.Acquire(in.NixDir, in.Log.BodyWriter())
	if err != nil {
		return Result{}, err
	}
	defer lock.Release()
	if res, ok, err := runWithoutNix(in, app, run, target); ok || err != nil {
		return res, err
	}
	if in.NixConf, err = nixConf(in, app); err != nil {
		return Result{}, err
	}
	nix, err := useNix(in)
	if err != nil {
		return Result{}, withoutNixHint(in, app, err)
	}
	if err := lock.HoldGC(); err != nil {
		return Result{}, err
	}
	restored, err := restore(in, nix, app)
	if err != nil {
		return Result{}, err
	}
	output, before, err := buildUnlessRestored(in, nix, app, restored)
	if err != nil {
		return Result{}, err
	}
	rt, extra, err := readRuntime(in, nix, app, output)
	if err != nil {
		return Result{}, err
	}
	paths, err := runtimeClosure(in, nix, append([]string{output}, extra...)...)
	if err != nil {
		return Result{}, err
	}
	if err := push(in, nix, caching.Built{Output: output, Runtime: paths, Before: before, Restored: restored.Installed}); err != nil {
		return Result{}, err
	}
	if err := keepForNextBuild(in, nix, lock, output, extra); err != nil {
		return Result{}, err
	}
	graph, err := closure.ReadGraph(nix, paths)
	if err != nil {
		return Result{}, err
	}
	return deliver(in, delivery{root: filepath.Dir(nix.Dir()), app: app, run: run, output: output, extra: extra, paths: paths, rt: rt, graph: graph,
		provenance: nix.Provenance(app)}, target)
}

// readConfig is the config step: the app's expression (generated from a
// [nix] template first), and hop3.toml's [run] and the Procfile.
func readConfig(in Input) (config.App, config.Run, error) {
	app, err := loadApp(in)
	if err != nil {
		return app, config.Run{}, err
	}
	in.Log.Headerf("Nix expression: %s (%s)", app.NixFile, app.Source)
	app = withFlakeAttr(in, app)
	run, err := config.ReadRun(in.AppDir)
	if err != nil {
		return app, run, err
	}
	for _, n := range run.Notes {
		in.Log.Body(n)
	}
	return app, run, nil
}

// keepForNextBuild roots what the build made (the output and the paths its
// attributes name), lets collections run again, and collects the store.
func keepForNextBuild(in Input, nix Nix, lock *storelock.Lock, output string, extra []string) error {
	if err := lock.Root(append([]string{output}, extra...)...); err != nil {
		return err
	}
	lock.ReleaseGC() // for the build's own collection
	nix.Collect(in.Log, output, in.StoreGC)
	return nil
}

// delivery is what is handed to the target: the closure (its store under
// root) and what describes it.
type delivery struct {
	root   string
	app    config.App
	run    config.Run
	output string
	// extra are store paths outside output's closure that the app refers
	// to (see Result.Extra).
	extra []string
	paths []string
	rt    runtimejson.Runtime
	graph closure.Graph
	// provenance is what the closure was built from (zero when restored
	// without evaluating).
	provenance sbom.Provenance
}

// deliver prunes the closure into the target, guards and measures it,
// describes the processes and has the target emit them: the same steps
// whether the closure was built or restored without Nix.
func deliver(in Input, d delivery, target Target) (Result, error) {
	rules, err := readRules(in.AppDir)
	if err != nil {
		return Result{}, err
	}
	copied, err := pruneClosure(in, d.root, d.paths, strings.Join(append([]string{d.output}, d.extra...), " "), rules, target)
	if err != nil {
		return Result{}, err
	}
	if err := guardClosure(in, copied, d.graph.References, d.rt); err != nil {
		return Result{}, err
	}
	if err := measure(in, d.root, d.paths, copied); err != nil {
		return Result{}, err
	}
	plan, err := describe(in, d.rt, d.run, target.Launcher())
	if err != nil {
		return Result{}, err
	}
	res := Result{App: d.app, Output: d.output, Extra: d.extra, Closure: d.paths, Runtime: d.rt, Processes: plan.Processes, Env: plan.Env,
		Graph: d.graph, ExcludeDigest: rules.digest, Healthcheck: d.run.Healthcheck, ReleaseSource: d.run.Release.Source,
		Provenance: d.provenance}
	return res, target.Emit(res)
}

// useNix makes Nix usable: installNix, unless a test gave a fake.
func useNix(in Input) (Nix, error) {
	if in.useNix != nil {
		return in.useNix(in)
	}
	return installNix(in)
}

// restore installs what the caches have; a restored output skips the build.
func restore(in Input, nix Nix, app config.App) (*caching.Restored, error) {
	if in.Caches.Any() {
		in.Log.Headerf("Restoring from caches (build policy: %s)", in.Caches.Policy)
	}
	res, err := in.Caches.Restore(context.Background(), nix, app, in.SourceDigest, in.Log.BodyWriter())
	if err != nil {
		return nil, err
	}
	if res.Output != "" {
		how := "after evaluating " + app.NixFile
		if res.ByPointer {
			how = "by the source digest, without evaluating Nix"
		}
		in.Log.Bodyf("Restored %s %s: 0 Nix builds", res.Output, how)
	}
	return res, nil
}

// buildUnlessRestored builds what was not restored. before is the store's
// entries before the build (nil when nothing was built), for push.
func buildUnlessRestored(in Input, nix Nix, app config.App, restored *caching.Restored) (string, map[string]bool, error) {
	if restored.Output != "" {
		return restored.Output, nil, nil
	}
	if in.Caches.Policy == settings.BuildNever {
		return "", nil, fmt.Errorf("%s: the build policy is never, and the caches do not hold this app's output\n"+
			"populate the cache from a machine that can build: `nixbp cache push --cache <url> $(nix-build %s -A package)`, "+
			"or set BP_NIX_BUILD_POLICY=missing", app.NixFile, app.NixFile)
	}
	before, err := caching.StoreEntries(nix)
	if err != nil {
		return "", nil, err
	}
	if in.Build, err = substituteNatively(in, nix, app, restored); err != nil {
		return "", nil, err
	}
	output, err := build(in, nix, app)
	return output, before, err
}

// push uploads what this build made to the writable cache, if any (nothing
// was built when b.Before is nil).
func push(in Input, nix Nix, b caching.Built) error {
	if in.Caches.Write == nil || b.Before == nil {
		return nil
	}
	in.Log.Headerf("Pushing to %s", in.Caches.Write)
	return in.Caches.Push(context.Background(), nix, b, in.SourceDigest, in.Log.BodyWriter())
}

func build(in Input, nix Nix, app config.App) (string, error) {
	start := time.Now()
	tool := "nix-build"
	if app.Flake {
		tool = "nix build"
	}
	in.Log.Headerf("Building %s with %s", app.NixFile, tool)
	out, err := nix.Build(app, in.Build, in.Log.BodyWriter())
	if err != nil {
		return "", err
	}
	in.Log.Bodyf("Built %s in %s", out, time.Since(start).Round(time.Millisecond))
	return out, nil
}

// runtimeClosure is every store path the roots (the output, and the store
// paths its attributes refer to) need at run time.
func runtimeClosure(in Input, nix Nix, roots ...string) ([]string, error) {
	paths, err := closure.Runtime(nix, roots...)
	if err != nil {
		return nil, err
	}
	in.Log.Bodyf("Runtime closure: %d store paths", len(paths))
	return paths, nil
}

// describe turns the runtime description, hop3.toml's [run] and [env] and
// the Procfile into processes and their environment, with Hop3's
// precedence, and logs what becomes of the addons.
func describe(in Input, rt runtimejson.Runtime, run config.Run, l Launcher) (process.Plan, error) {
	plan, err := Describe(rt, run, l)
	if err != nil {
		return plan, err
	}
	for _, n := range append(plan.Notes, addonNotes(run.Addons)...) {
		in.Log.Body(n)
	}
	for _, p := range plan.Processes {
		in.Log.Bodyf("Process %s: %s", p.Type, p.Display())
	}
	return plan, nil
}

// Launcher says how processes start the launcher at run time.
type Launcher = process.Launcher
