package cnb

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/buildpacks/libcnb/v2"
	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/layering"
	"github.com/nix-buildpack/nix-buildpack/internal/pipeline"
	"github.com/nix-buildpack/nix-buildpack/internal/process"
	"github.com/nix-buildpack/nix-buildpack/internal/relocate"
	"github.com/nix-buildpack/nix-buildpack/internal/tree"
)

// viewLayerName is the layer whose nix/ the launcher shows at /nix.
const viewLayerName = "view"

// viewLayer holds nix/store/<path> links into the store layers, the launch
// environment and the SBOM. It is small, and changes with the app.
type viewLayer struct {
	logger    log.Logger
	res       pipeline.Result
	plan      []layering.Layer
	layersDir string
	// launcher is the buildpack version, whose launcher reads the view.
	launcher string
	// source and settings are digests recorded for reusePrevious.
	source, settings string
	// relocated is where the store layers' closure was relocated to, ""
	// when it was not: the view then also records it for the launcher, and
	// the launch environment names it.
	relocated relocate.Prefix
}

// Name is the layer's name.
func (v *viewLayer) Name() string { return viewLayerName }

// metadata covers the layer plan, the output, the rules and the
// environment (with hop3.nix attributes, ADR 006, the environment can
// change while the output does not), and what reusePrevious needs.
func (v *viewLayer) metadata() (viewMetadata, error) {
	h := sha256.New()
	for _, l := range v.plan {
		fmt.Fprintf(h, "%s %s\n", l.Name, strings.Join(l.Paths, " "))
	}
	for _, e := range v.res.Env {
		fmt.Fprintf(h, "env %d %s=%s\n", e.Precedence, e.Name, e.Value)
	}
	fmt.Fprintf(h, "path %s\n", strings.Join(v.res.Runtime.Path, ":"))
	rt, err := json.Marshal(v.res.Runtime)
	if err != nil {
		return viewMetadata{}, fmt.Errorf("unable to encode the runtime for the view layer's metadata\n%w", err)
	}
	layerNames := make([]string, 0, len(v.plan))
	for _, l := range v.plan {
		layerNames = append(layerNames, l.Name)
	}
	return viewMetadata{Output: v.res.Output, SlugExclude: v.res.ExcludeDigest, Layers: hex.EncodeToString(h.Sum(nil)),
		Launcher: v.launcher, Source: v.source, Settings: v.settings, Runtime: string(rt),
		Closure: strings.Join(v.res.Closure, " "), StoreLayers: strings.Join(layerNames, " "), Relocated: string(v.relocated)}, nil
}

// Contribute links every store path to its layer and sets the launch
// environment; an unchanged layer is left as it is (libcnb would otherwise
// rewrite its env files, and the exporter could not reuse it). It logs
// which, and why.
func (v *viewLayer) Contribute(layer *libcnb.Layer) error {
	m, err := v.metadata()
	if err != nil {
		return err
	}
	if why := changes(layer.Metadata, m); len(why) == 0 {
		v.logger.Bodyf("Reusing the view layer: links and launch environment unchanged")
	} else {
		v.logger.Bodyf("Writing the view layer: %s", strings.Join(why, "; "))
		if err := v.write(layer); err != nil {
			return err
		}
	}
	layer.Metadata = metadataOf(m)
	layer.LayerTypes = libcnb.LayerTypes{Launch: true}
	return nil
}

// write replaces the layer's links and launch environment.
func (v *viewLayer) write(layer *libcnb.Layer) error {
	if err := tree.Remove(layer.Path); err != nil {
		return err
	}
	store := filepath.Join(layer.Path, "nix", "store")
	if err := os.MkdirAll(store, 0o755); err != nil {
		return fmt.Errorf("unable to create %s\n%w", store, err)
	}
	for _, l := range v.plan {
		for _, n := range l.Paths {
			if err := os.Symlink(filepath.Join(v.layersDir, l.Name, "store", n), filepath.Join(store, n)); err != nil {
				return fmt.Errorf("unable to link %s\n%w", n, err)
			}
		}
	}
	res := v.res
	if v.relocated != "" {
		id := fmt.Sprintf("%s %s relocated=%s", v.res.Output, v.res.ExcludeDigest, v.relocated)
		if err := writeRelocated(filepath.Join(layer.Path, "nix"), v.relocated, id); err != nil {
			return err
		}
		res = res.MapStorePaths(v.relocated.StorePath)
	}
	setEnv(layer, res)
	return nil
}

// setEnv writes the launch environment.
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
