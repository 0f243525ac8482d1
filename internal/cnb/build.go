package cnb

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/buildpacks/libcnb/v2"
	"github.com/paketo-buildpacks/libpak/v2"
	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/closure"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/pipeline"
	"github.com/nix-buildpack/nix-buildpack/internal/process"
	"github.com/nix-buildpack/nix-buildpack/internal/sbom"
	"github.com/nix-buildpack/nix-buildpack/internal/slug"
	"github.com/nix-buildpack/nix-buildpack/internal/storegc"
)

// Settings a user may set, declared in buildpack.toml.
const (
	StrategySetting     = "BP_NIX_STRATEGY"
	BuildArgsSetting    = "BP_NIX_BUILD_ARGS"
	SubstitutersSetting = "BP_NIX_SUBSTITUTERS"
	TrustedKeysSetting  = "BP_NIX_TRUSTED_PUBLIC_KEYS"
	VersionSetting      = "BP_NIX_VERSION"
	GuardSetting        = "BP_NIX_PRUNE_GUARD"
	EmptyDirsSetting    = "BP_NIX_PRUNE_EMPTY_DIRS"
	SizeLimitSetting    = "BP_NIX_SIZE_LIMIT"
	MaxLayersSetting    = "BP_NIX_MAX_LAYERS"
	StoreGCSetting      = storegc.EnabledSetting
	CacheMaxSizeSetting = storegc.MaxSizeSetting
)

// NewBuild returns the build function.
func NewBuild(logger log.Logger) libcnb.BuildFunc {
	return func(ctx libcnb.BuildContext) (libcnb.BuildResult, error) {
		result := libcnb.NewBuildResult()
		logger.Title(ctx.Buildpack.Info.Name, ctx.Buildpack.Info.Version, ctx.Buildpack.Info.Homepage)

		md, err := libpak.NewBuildModuleMetadata(ctx.Buildpack.Metadata)
		if err != nil {
			return result, fmt.Errorf("unable to read buildpack.toml metadata\n%w", err)
		}
		cr, err := libpak.NewConfigurationResolver(md)
		if err != nil {
			return result, fmt.Errorf("unable to resolve configuration\n%w", err)
		}
		cr.LogConfiguration(logger)

		in, err := input(ctx, md, cr, logger)
		if err != nil {
			return result, err
		}

		nixLayer, err := ctx.Layers.Layer("nix")
		if err != nil {
			return result, fmt.Errorf("unable to create the nix layer\n%w", err)
		}
		in.NixDir = filepath.Join(nixLayer.Path, "nix")
		// With a writable binary cache, the store reaches the next build
		// through it (and unchanged source through the view layer's
		// metadata): a cache layer would send Nix and the whole store to
		// a cache image on every change.
		nixLayer.LayerTypes = libcnb.LayerTypes{Build: true, Cache: in.Caches.Write == nil}
		nixLayer.Metadata = map[string]interface{}{"nix-version": in.Nix.Version, "nix-checksum": in.Nix.Checksum}

		maxText, _ := cr.Resolve(MaxLayersSetting)
		maxLayers, err := strconv.Atoi(strings.TrimSpace(maxText))
		if err != nil || maxLayers < 1 {
			return result, fmt.Errorf("%s: expected a whole number of layers, 1 or more, got %q", MaxLayersSetting, maxText)
		}
		target := &launchTarget{layers: ctx.Layers, logger: logger, buildpackDir: ctx.Buildpack.Path,
			buildpackVersion: ctx.Buildpack.Info.Version, maxLayers: maxLayers, settings: settingsDigest(in, maxLayers),
			appDir: ctx.ApplicationPath}
		if len(in.Caches.Read) > 0 || in.Caches.Write != nil {
			if target.source, err = closure.SourceDigest(ctx.ApplicationPath); err != nil {
				return result, err
			}
		}
		reused, procs, err := target.reusePrevious(in.Caches)
		if err != nil {
			return result, err
		}
		if reused {
			result.Layers = target.contributed
			result.Processes = cnbProcesses(procs)
			return result, nil
		}

		res, err := pipeline.Run(in, target)
		if err != nil {
			return result, err
		}
		if err := writeSBOM(res, target.viewPath()); err != nil {
			return result, err
		}
		result.Layers = append(append(result.Layers, nixLayer), target.contributed...)
		result.Processes = cnbProcesses(res.Processes)
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

// input reads settings and resolves the Nix dependency.
func input(ctx libcnb.BuildContext, md libpak.BuildModuleMetadata, cr libpak.ConfigurationResolver, logger log.Logger) (pipeline.Input, error) {
	strategyName, _ := cr.Resolve(StrategySetting)
	strategy, err := nixmount.ParseStrategy(strategyName)
	if err != nil {
		return pipeline.Input{}, fmt.Errorf("%s: %w", StrategySetting, err)
	}
	version, _ := cr.Resolve(VersionSetting)
	dr, err := libpak.NewDependencyResolver(md, ctx.StackID)
	if err != nil {
		return pipeline.Input{}, fmt.Errorf("unable to create dependency resolver\n%w", err)
	}
	dep, err := dr.Resolve("nix", version)
	if err != nil {
		return pipeline.Input{}, fmt.Errorf("unable to find the Nix dependency in buildpack.toml\n%w", err)
	}
	dc, err := libpak.NewDependencyCache(ctx.Buildpack.Info.ID, ctx.Buildpack.Info.Version, ctx.Buildpack.Path, ctx.Platform.Bindings, logger)
	if err != nil {
		return pipeline.Input{}, fmt.Errorf("unable to create dependency cache\n%w", err)
	}
	subs, _ := cr.Resolve(SubstitutersSetting)
	keys, _ := cr.Resolve(TrustedKeysSetting)
	limitText, _ := cr.Resolve(SizeLimitSetting)
	limit, err := pipeline.ParseSize(limitText)
	if err != nil {
		return pipeline.Input{}, fmt.Errorf("%s: %w", SizeLimitSetting, err)
	}
	maxText, _ := cr.Resolve(CacheMaxSizeSetting)
	maxSize, err := pipeline.ParseSize(maxText)
	if err != nil {
		return pipeline.Input{}, fmt.Errorf("%s: %w", CacheMaxSizeSetting, err)
	}
	gcText, _ := cr.Resolve(StoreGCSetting)
	gc, err := strconv.ParseBool(strings.TrimSpace(gcText))
	if err != nil {
		return pipeline.Input{}, fmt.Errorf("%s=%q: expected true or false", StoreGCSetting, gcText)
	}
	cs, err := caches(ctx, cr, strings.Fields(keys), logger)
	if err != nil {
		return pipeline.Input{}, err
	}
	args, _ := cr.Resolve(BuildArgsSetting)
	return pipeline.Input{
		AppDir:   ctx.ApplicationPath,
		Strategy: strategy,
		Nix: nixinstall.Source{
			Version:  dep.Version,
			Checksum: dep.GetChecksum().Hash(),
			Open: func() (io.ReadCloser, error) {
				logger.Headerf("Fetching Nix %s", dep.Version)
				return dc.Artifact(dep)
			},
		},
		Settings:  nixinstall.Settings{Substituters: strings.Fields(subs), TrustedPublicKeys: strings.Fields(keys)},
		BuildArgs: strings.Fields(args),
		Caches:    cs,
		Prune: pipeline.Prune{Unguarded: !cr.ResolveBool(GuardSetting), PruneEmptyDirs: cr.ResolveBool(EmptyDirsSetting),
			SizeLimit: limit},
		StoreGC: storegc.Options{Enabled: gc, MaxSize: maxSize},
		Log:     logger,
	}, nil
}

// launchTarget puts the runtime closure into launch layers: store-* layers
// holding the store paths (see storeLayers), the layer "view" whose nix/store
// links to them and which carries the launch environment, and the layer
// "launcher" holding nixbp-launch.
type launchTarget struct {
	layers           libcnb.Layers
	logger           log.Logger
	buildpackDir     string
	buildpackVersion string
	maxLayers        int
	// source is the app source's digest when a cache can hold its pointer,
	// and settings the digest of the settings that shape the layers
	// (reusePrevious).
	source, settings string
	// appDir is the app's source, for its Procfile and hop3.toml.
	appDir string
	// contributed are the launch layers, for the build result.
	contributed []libcnb.Layer
}

// ClosureDir is a staging directory beside the layers: the closure is
// hard-linked there on every build (cheap), checked, then moved into the
// store layers that changed (Emit).
func (t *launchTarget) ClosureDir(string) (string, bool, error) {
	dir := t.stagingPath()
	if err := slug.RemoveTree(dir); err != nil {
		return "", false, err
	}
	return dir, false, nil
}

func (t *launchTarget) stagingPath() string { return filepath.Join(t.layers.Path, ".closure-staging") }
func (t *launchTarget) viewPath() string    { return filepath.Join(t.layers.Path, viewLayer) }

func (t *launchTarget) Launcher() pipeline.Launcher {
	return pipeline.Launcher{Path: filepath.Join(t.layers.Path, launcherLayer, "bin", "nixbp-launch"),
		NixDir: filepath.Join(t.viewPath(), "nix")}
}

func (t *launchTarget) Emit(res pipeline.Result) error {
	defer slug.RemoveTree(t.stagingPath())
	plan, err := t.storeLayers(res)
	if err != nil {
		return err
	}
	if err := t.viewLayer(res, plan); err != nil {
		return err
	}
	return t.launcherLayer()
}

// setEnv writes the launch environment (on the view layer, which changes
// with the app anyway).
func setEnv(layer *libcnb.Layer, res pipeline.Result) {
	env := layer.LaunchEnvironment
	env.Default("PORT", "8080")
	env.Default("BIND_ADDRESS", "0.0.0.0")
	for _, v := range res.Env {
		if v.Precedence == process.Override {
			env.Override(v.Name, v.Value)
		} else {
			env.Default(v.Name, v.Value)
		}
	}
	if len(res.Runtime.Path) > 0 {
		env.Prepend("PATH", ":", strings.Join(res.Runtime.Path, ":"))
	}
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("unable to read %s\n%w", src, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o755)
}

// launcherBinary finds nixbp-launch in a packaged buildpack (bin/) or a
// checkout with built binaries (lib/linux-<arch>/).
func launcherBinary(buildpackDir string) string {
	p := filepath.Join(buildpackDir, "lib", "linux-"+runtime.GOARCH, "nixbp-launch")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return filepath.Join(buildpackDir, "bin", "nixbp-launch")
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
	return sbom.Write(layerPath, paths)
}
