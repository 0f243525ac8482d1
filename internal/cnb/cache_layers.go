package cnb

import (
	"archive/tar"
	"os"
	"path/filepath"
	"sync"

	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/cache"
	"github.com/nix-buildpack/nix-buildpack/internal/layering"
	"github.com/nix-buildpack/nix-buildpack/internal/nar"
)

// cacheLayers says how an oci:// cache is to store each runtime store path:
// as the blob of the path's own store layer (store-<hash> in layersDir),
// byte for byte what the lifecycle's exporter will make of that layer
// (nar.PackLayer), so that the exporter finds the blob in the registry and
// does not send it again. It returns nil (NARs) for another cache, or when
// the store layers hold the relocated closure, whose bytes differ from the
// paths as built. A path that ends up pruned by .slugexclude, or grouped
// past BP_NIX_MAX_LAYERS, still reads back whole from the cache; only its
// layer is sent by the exporter as well.
func cacheLayers(w *cache.Cache, layersDir string, relocated bool, logger log.Logger) func(string) (nar.Layer, bool) {
	if w == nil || !w.TakesLayers() {
		return nil
	}
	if relocated {
		logger.Bodyf("Closure cache %s keeps NARs: the store layers hold the relocated closure, so the exporter sends them", w)
		return nil
	}
	logger.Bodyf("Closure cache %s keeps the runtime store paths as their store layers' blobs: the exporter finds them there (in the image's own repository) and does not send them again", w)
	uid, gid := os.Getuid(), os.Getgid()
	var once sync.Once
	var parents []tar.Header
	var perr error
	return func(storePath string) (nar.Layer, bool) {
		dir := filepath.Join(layersDir, layering.StoreLayerName(filepath.Base(storePath)))
		once.Do(func() { parents, perr = nar.LayerParents(dir) })
		if perr != nil {
			return nar.Layer{}, false
		}
		return nar.Layer{Parents: parents, Dir: dir, UID: uid, GID: gid}, true
	}
}
