package cnb

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/buildpacks/libcnb/v2"

	"github.com/nix-buildpack/nix-buildpack/internal/layering"
	"github.com/nix-buildpack/nix-buildpack/internal/pipeline"
	"github.com/nix-buildpack/nix-buildpack/internal/slug"
)

// Names of the launch layers besides the store-* ones.
const (
	viewLayer     = "view"
	launcherLayer = "launcher"
)

// storeLayers moves the staged closure into store-* launch layers, as
// layering.Plan splits it. A layer whose key (its store paths and the
// .slugexclude digest) matches the previous build's is left untouched, so
// the exporter reuses the previous image's layer.
func (t *launchTarget) storeLayers(res pipeline.Result) ([]layering.Layer, error) {
	staged := filepath.Join(t.stagingPath(), "store")
	entries, err := os.ReadDir(staged)
	if err != nil {
		return nil, fmt.Errorf("unable to read the staged closure %s\n%w", staged, err)
	}
	kept := make([]string, 0, len(entries))
	for _, e := range entries {
		kept = append(kept, "/nix/store/"+e.Name())
	}
	plan := layering.Plan(kept, res.Graph.References, res.Graph.NarSizes, t.maxLayers)
	reused := 0
	for _, l := range plan {
		want := map[string]string{"paths": strings.Join(l.Paths, " "), "slugexclude": res.ExcludeDigest}
		layer, err := t.layers.Layer(l.Name)
		if err != nil {
			return nil, fmt.Errorf("unable to create the layer %s\n%w", l.Name, err)
		}
		if sameMetadata(layer.Metadata, want) {
			reused++
		} else if err := fillStoreLayer(layer.Path, staged, l.Paths); err != nil {
			return nil, err
		}
		layer.Metadata = toMetadata(want)
		layer.LayerTypes = libcnb.LayerTypes{Launch: true}
		t.contributed = append(t.contributed, layer)
	}
	if reused == len(plan) {
		t.logger.Bodyf("Reusing the runtime closure: all %d store layers", len(plan))
	} else {
		t.logger.Bodyf("Store layers: %d contributed, %d reused (at most %d, %s)", len(plan)-reused, reused, t.maxLayers, MaxLayersSetting)
	}
	return plan, nil
}

// fillStoreLayer replaces the layer's content with the named store paths,
// moved (renamed) out of staged.
func fillStoreLayer(dir, staged string, names []string) error {
	if err := slug.RemoveTree(dir); err != nil {
		return err
	}
	store := filepath.Join(dir, "store")
	if err := os.MkdirAll(store, 0o755); err != nil {
		return fmt.Errorf("unable to create %s\n%w", store, err)
	}
	for _, n := range names {
		if err := move(filepath.Join(staged, n), filepath.Join(store, n)); err != nil {
			return err
		}
	}
	return nil
}

// move renames a store path. Moving a directory to another parent updates
// its "..", which needs write permission on it (rename(2), EACCES); store
// directories are read-only, so it is lent for the move.
func move(src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("unable to read %s\n%w", src, err)
	}
	mode := fi.Mode()
	if mode.IsDir() && mode.Perm()&0o200 == 0 {
		if err := os.Chmod(src, mode.Perm()|0o200); err != nil {
			return fmt.Errorf("unable to make %s writable\n%w", src, err)
		}
		defer os.Chmod(dst, mode.Perm()|mode&(os.ModeSetgid|os.ModeSetuid|os.ModeSticky))
	}
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("unable to move %s into its layer\n%w", src, err)
	}
	return nil
}

// viewLayer makes the layer whose nix/ the launcher shows at /nix: one
// symlink per store path into its store layer. It carries the launch
// environment, written only when the layer is contributed.
func (t *launchTarget) viewLayer(res pipeline.Result, plan []layering.Layer) error {
	layer, err := t.layers.Layer(viewLayer)
	if err != nil {
		return fmt.Errorf("unable to create the view layer\n%w", err)
	}
	h := sha256.New()
	for _, l := range plan {
		fmt.Fprintf(h, "%s %s\n", l.Name, strings.Join(l.Paths, " "))
	}
	// The environment is part of the key: with hop3.nix attributes (ADR
	// 006) it can change while the output does not.
	keys := make([]string, 0, len(res.Runtime.Env))
	for k := range res.Runtime.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "env %s=%s\n", k, res.Runtime.Env[k])
	}
	fmt.Fprintf(h, "path %s\n", strings.Join(res.Runtime.Path, ":"))
	rt, err := json.Marshal(res.Runtime)
	if err != nil {
		return fmt.Errorf("unable to encode the runtime for the view layer's metadata\n%w", err)
	}
	names := make([]string, 0, len(plan))
	for _, l := range plan {
		names = append(names, l.Name)
	}
	// Enough to reuse every launch layer on a fresh pod without the store
	// (reusePrevious).
	want := map[string]string{"output": res.Output, "slugexclude": res.ExcludeDigest,
		"layers": hex.EncodeToString(h.Sum(nil)), "launcher": t.buildpackVersion,
		metaSource: t.source, metaSettings: t.settings, metaRuntime: string(rt),
		metaClosure: strings.Join(res.Closure, " "), metaStoreLayers: strings.Join(names, " ")}
	if !sameMetadata(layer.Metadata, want) {
		if err := slug.RemoveTree(layer.Path); err != nil {
			return err
		}
		store := filepath.Join(layer.Path, "nix", "store")
		if err := os.MkdirAll(store, 0o755); err != nil {
			return fmt.Errorf("unable to create %s\n%w", store, err)
		}
		for _, l := range plan {
			for _, n := range l.Paths {
				if err := os.Symlink(filepath.Join(t.layers.Path, l.Name, "store", n), filepath.Join(store, n)); err != nil {
					return fmt.Errorf("unable to link %s\n%w", n, err)
				}
			}
		}
		setEnv(&layer, res)
	}
	layer.Metadata = toMetadata(want)
	layer.LayerTypes = libcnb.LayerTypes{Launch: true}
	t.contributed = append(t.contributed, layer)
	return nil
}

// launcherLayer holds bin/nixbp-launch, keyed by the binary's digest, so it
// is the same layer in every app built by the same buildpack.
func (t *launchTarget) launcherLayer() error {
	layer, err := t.layers.Layer(launcherLayer)
	if err != nil {
		return fmt.Errorf("unable to create the launcher layer\n%w", err)
	}
	sum, err := launcherDigest(t.buildpackDir)
	if err != nil {
		return err
	}
	want := map[string]string{"sha256": sum}
	if !sameMetadata(layer.Metadata, want) {
		if err := slug.RemoveTree(layer.Path); err != nil {
			return err
		}
		if err := copyFile(launcherBinary(t.buildpackDir), filepath.Join(layer.Path, "bin", "nixbp-launch")); err != nil {
			return err
		}
	}
	layer.Metadata = toMetadata(want)
	layer.LayerTypes = libcnb.LayerTypes{Launch: true}
	t.contributed = append(t.contributed, layer)
	return nil
}

// launcherDigest is the sha256 of the buildpack's nixbp-launch.
func launcherDigest(buildpackDir string) (string, error) {
	src := launcherBinary(buildpackDir)
	data, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("unable to read %s\n%w", src, err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// sameMetadata reports whether a layer's metadata (as read back from its
// TOML) is exactly want.
func sameMetadata(have map[string]interface{}, want map[string]string) bool {
	if len(have) != len(want) {
		return false
	}
	for k, v := range want {
		if s, ok := have[k].(string); !ok || s != v {
			return false
		}
	}
	return true
}

func toMetadata(m map[string]string) map[string]interface{} {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]interface{}, len(m))
	for _, k := range keys {
		out[k] = m[k]
	}
	return out
}
