package cnb

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/buildpacks/libcnb/v2"
	"github.com/paketo-buildpacks/libpak/v2"
	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/layering"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/pipeline"
	"github.com/nix-buildpack/nix-buildpack/internal/process"
	"github.com/nix-buildpack/nix-buildpack/internal/relocate"
	"github.com/nix-buildpack/nix-buildpack/internal/sbom"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
	"github.com/nix-buildpack/nix-buildpack/internal/tree"
)

// NewBuild returns the build function: the settings become the pipeline's
// input, the pipeline builds into launchTarget, whose Emit makes the launch
// layers (store paths, view, launcher) and the SBOM.
func NewBuild(logger log.Logger) libcnb.BuildFunc {
	return func(ctx libcnb.BuildContext) (libcnb.BuildResult, error) {
		result := libcnb.NewBuildResult()
		logger.Title(ctx.Buildpack.Info.Name, ctx.Buildpack.Info.Version, ctx.Buildpack.Info.Homepage)
		nixLayer, err := ctx.Layers.Layer("nix")
		if err != nil {
			return result, fmt.Errorf("unable to create the nix layer\n%w", err)
		}
		in, b, err := Input(ctx, filepath.Join(nixLayer.Path, "nix"), logger)
		if err != nil {
			return result, err
		}
		// Nix's installation and store: nixinstall keeps its own key (the
		// tarball's version and checksum) inside, and reinstalls on a change.
		// With a writable binary cache, the store reaches the next build
		// through it (and unchanged source through the view layer's
		// metadata): a cache layer would send Nix and the whole store to a
		// cache image on every change.
		nixLayer.LayerTypes = libcnb.LayerTypes{Build: true, Cache: in.Caches.Write == nil}
		nixLayer.Metadata = metadataOf(nixMetadata{Nix: nixinstall.Key(in.Installer)})

		reloc, err := newRelocation(b.Relocate, in.NixDir, logger)
		if err != nil {
			return result, err
		}
		in.Caches.AsLayer = cacheLayers(in.Caches.Write, ctx.Layers.Path, reloc.wanted, logger)
		target := &launchTarget{layers: ctx.Layers, logger: logger, buildpackDir: ctx.Buildpack.Path,
			buildpackVersion: ctx.Buildpack.Info.Version, maxLayers: b.MaxLayers, settings: settingsDigest(in, b.MaxLayers, reloc),
			appDir: ctx.ApplicationPath, reloc: reloc, source: in.SourceDigest}
		reused, procs, err := target.reusePrevious(in.Caches)
		if err != nil {
			return result, err
		}
		if reused {
			result.Layers = target.contributed
			result.Processes = cnbProcesses(procs)
			result.Labels = target.labels
			return result, nil
		}
		if _, err := pipeline.Run(in, target); err != nil {
			return result, err
		}
		result.Layers = append(append(result.Layers, nixLayer), target.contributed...)
		result.Processes = cnbProcesses(target.processes)
		result.Labels = target.labels
		return result, nil
	}
}

// cnbProcesses are the processes for launch.toml.
func cnbProcesses(ps []process.Process) []libcnb.Process {
	out := make([]libcnb.Process, 0, len(ps))
	for _, p := range ps {
		out = append(out, libcnb.Process{Type: p.Type, Command: []string{p.Launcher}, Arguments: p.Args(), Default: p.Default})
	}
	return out
}

// Input reads the settings (logging them) and turns them into the
// pipeline's input, with Nix's store in nixDir.
func Input(ctx libcnb.BuildContext, nixDir string, logger log.Logger) (pipeline.Input, settings.BuildSettings, error) {
	md, err := libpak.NewBuildModuleMetadata(ctx.Buildpack.Metadata)
	if err != nil {
		return pipeline.Input{}, settings.BuildSettings{}, fmt.Errorf("unable to read buildpack.toml metadata\n%w", err)
	}
	cr, err := libpak.NewConfigurationResolver(md)
	if err != nil {
		return pipeline.Input{}, settings.BuildSettings{}, fmt.Errorf("unable to resolve configuration\n%w", err)
	}
	settings.Log(logger.BodyWriter(), Vars(cr))
	b, err := settings.ParseBuild(Vars(cr))
	if err != nil {
		return pipeline.Input{}, b, err
	}
	b.Caches = withCacheBinding(b.Caches, ctx.Platform.Bindings)
	in, err := pipeline.NewInput(pipeline.Platform{AppDir: ctx.ApplicationPath, NixDir: nixDir,
		Dependency: nixinstall.Dependency{Buildpack: ctx.Buildpack, Metadata: md, Stack: "", Bindings: ctx.Platform.Bindings},
		Secrets:    platformSecrets(ctx.Platform.Path), Log: logger}, b)
	return in, b, err
}

// platformSecrets are where a CNB platform keeps secrets: the platform
// directory (env/, bindings/) and a bindings root elsewhere
// (SERVICE_BINDING_ROOT, or the older CNB_BINDINGS).
func platformSecrets(platformDir string) pipeline.Secrets {
	var s pipeline.Secrets
	s.Add(platformDir, "the platform directory")
	s.Add(os.Getenv("SERVICE_BINDING_ROOT"), "SERVICE_BINDING_ROOT")
	s.Add(os.Getenv("CNB_BINDINGS"), "CNB_BINDINGS")
	return s
}

// Vars reads settings through libpak's ConfigurationResolver: a value
// counts as set only when the platform set it.
func Vars(cr libpak.ConfigurationResolver) settings.Vars {
	return func(name string) (string, bool) {
		v, ok := cr.Resolve(name)
		if !ok {
			return "", false
		}
		return v, true
	}
}

// launchTarget puts the runtime closure into launch layers: store-* layers
// holding the store paths, the layer "view" whose nix/store links to them
// and which carries the launch environment and the SBOM, and the layer
// "launcher" holding nixbp-launch.
type launchTarget struct {
	layers           libcnb.Layers
	logger           log.Logger
	buildpackDir     string
	buildpackVersion string
	maxLayers        int
	// source is the app source's digest when a cache can hold its pointer
	// (pipeline.Input.SourceDigest), and settings the digest of the settings that shape the layers
	// (reusePrevious).
	source, settings string
	// appDir is the app's source, for its Procfile and hop3.toml.
	appDir string
	// reloc says whether the store layers hold a relocated closure.
	reloc relocation
	// rules is the .slugexclude digest of this build, for the store layers' keys.
	rules string
	// contributed are the launch layers, for the build result.
	contributed []libcnb.Layer
	// processes are what Emit launches: the pipeline's, naming the
	// relocated closure when it is.
	processes []process.Process
	// labels are the image's labels (hop3.toml's [healthcheck]).
	labels []libcnb.Label
}

// ClosureDir is a staging directory beside the layers: the closure is
// hard-linked there on every build (cheap), checked, then moved into the
// store layers that changed (Emit).
func (t *launchTarget) ClosureDir(string) (string, bool, error) {
	dir := t.stagingPath()
	if err := tree.Remove(dir); err != nil {
		return "", false, err
	}
	return dir, false, nil
}

func (t *launchTarget) stagingPath() string { return filepath.Join(t.layers.Path, ".closure-staging") }
func (t *launchTarget) viewPath() string    { return filepath.Join(t.layers.Path, viewLayerName) }

// Launcher is nixbp-launch in the launcher layer, showing the view at /nix.
func (t *launchTarget) Launcher() pipeline.Launcher {
	return pipeline.Launcher{Path: filepath.Join(t.layers.Path, launcherLayerName, "bin", "nixbp-launch"),
		NixDir: filepath.Join(t.viewPath(), "nix")}
}

// Emit is the CNB side's own steps: plan the store layers, relocate the
// changed ones when the build relocates, fill them, link the view, add the
// launcher, write the SBOM.
func (t *launchTarget) Emit(res pipeline.Result) error {
	defer tree.Remove(t.stagingPath())
	defer tree.Remove(t.relocatedStagingPath())
	t.rules = res.ExcludeDigest
	plan, err := t.planLayers(res)
	if err != nil {
		return err
	}
	relocated, staged, err := t.relocateLayers(plan)
	if err != nil {
		return err
	}
	if err := t.storeLayers(plan, staged, relocated); err != nil {
		return err
	}
	view := &viewLayer{logger: t.logger, res: res, plan: plan, layersDir: t.layers.Path, launcher: t.buildpackVersion,
		source: t.source, settings: t.settings}
	t.processes = res.Processes
	t.labels = healthcheckLabels(res.Healthcheck, t.logger)
	if relocated != "" {
		view.relocated = relocate.ImagePrefix
		t.processes = relocatedProcesses(res.Processes, relocate.ImagePrefix)
		for _, p := range t.processes {
			t.logger.Bodyf("Process %s (relocated): %s", p.Type, p.Display())
		}
	}
	if err := t.contribute(view); err != nil {
		return err
	}
	launcher, err := newLauncherLayer(t.buildpackDir, t.logger)
	if err != nil {
		return err
	}
	if err := t.contribute(launcher); err != nil {
		return err
	}
	return writeSBOM(res, t.viewPath())
}

// contributor is a layer of this buildpack.
type contributor interface {
	Name() string
	Contribute(layer *libcnb.Layer) error
}

// contribute makes the named layer and adds it to the build result.
func (t *launchTarget) contribute(c contributor) error {
	layer, err := t.layers.Layer(c.Name())
	if err != nil {
		return fmt.Errorf("unable to create the layer %s\n%w", c.Name(), err)
	}
	if err := c.Contribute(&layer); err != nil {
		return err
	}
	t.contributed = append(t.contributed, layer)
	return nil
}

// planLayers splits the pruned closure into store layers (layering.Plan).
func (t *launchTarget) planLayers(res pipeline.Result) ([]layering.Layer, error) {
	staged := filepath.Join(t.stagingPath(), "store")
	entries, err := os.ReadDir(staged)
	if err != nil {
		return nil, fmt.Errorf("unable to read the staged closure %s\n%w", staged, err)
	}
	kept := make([]string, 0, len(entries))
	for _, e := range entries {
		kept = append(kept, "/nix/store/"+e.Name())
	}
	return layering.Plan(kept, res.Graph.References, res.Graph.NarSizes, t.maxLayers), nil
}

// storeLayers contributes one layer per planned group of store paths.
func (t *launchTarget) storeLayers(plan []layering.Layer, staged, relocated string) error {
	reused := 0
	for _, l := range plan {
		s := t.storeLayer(l, staged, relocated)
		if err := t.contribute(s); err != nil {
			return err
		}
		if s.reused {
			reused++
		}
	}
	if reused == len(plan) {
		t.logger.Bodyf("Reusing the runtime closure: all %d store layers", len(plan))
	} else {
		t.logger.Bodyf("Store layers: %d contributed, %d reused (at most %d, %s)", len(plan)-reused, reused, t.maxLayers, settings.MaxLayersName)
	}
	return nil
}

// storeLayer is the layer of one planned group, filled from staged.
func (t *launchTarget) storeLayer(l layering.Layer, staged, relocated string) *storeLayer {
	return &storeLayer{plan: l, staged: staged, rules: t.rules, relocated: relocated, logger: t.logger}
}

// writeSBOM writes the view layer's SBOM of the closure from the database
// records the pipeline read for it.
func writeSBOM(res pipeline.Result, layerPath string) error {
	paths := make([]sbom.StorePath, 0, len(res.Closure))
	for _, p := range res.Closure {
		info, ok := res.Graph.Infos[p]
		if !ok {
			return fmt.Errorf("unable to write the SBOM: no NAR hash read for %s", p)
		}
		paths = append(paths, sbom.StorePath{StorePath: p, NarHash: info.NarHash, NarSize: info.NarSize})
	}
	return sbom.Write(layerPath, paths, res.Provenance)
}
