package cnb

import (
	"os"
	"path/filepath"

	"github.com/nix-buildpack/nix-buildpack/internal/layering"
)

// A store layer of one store path that is a directory is named after the
// path (<hash>-<name>) and holds the path's content at its root: the layer
// directory /layers/nix-buildpack_nix/<hash>-<name> is the store path. A
// run image linking /nix/store -> /layers/nix-buildpack_nix then reaches it
// with one symlink hop, where /nix -> view/nix costs two (docs/native-nix-
// run-image.md, bench/README.md "launch"). Grouped paths, and single paths
// that are files or symlinks (a layer is a directory), keep
// store-<...>/store/<path>; the view links every path wherever it is.

// rootLayers renames the single-path layers of plan whose path is a
// directory in staged after that path.
func rootLayers(plan []layering.Layer, staged string) []layering.Layer {
	out := make([]layering.Layer, len(plan))
	for i, l := range plan {
		out[i] = l
		if len(l.Paths) != 1 {
			continue
		}
		if fi, err := os.Lstat(filepath.Join(staged, l.Paths[0])); err == nil && fi.IsDir() {
			out[i].Name = l.Paths[0]
		}
	}
	return out
}

// atRoot reports whether layer l holds its one store path at its root.
func atRoot(l layering.Layer) bool { return len(l.Paths) == 1 && l.Name == l.Paths[0] }

// pathIn is where store path name is in layer l of the layers directory.
func pathIn(layersDir string, l layering.Layer, name string) string {
	if atRoot(l) {
		return filepath.Join(layersDir, l.Name)
	}
	return filepath.Join(layersDir, l.Name, "store", name)
}
