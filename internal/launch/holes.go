package launch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// A run image may link /nix/store to the buildpack's layers directory
// (/nix/store -> /layers/nix-buildpack_nix): a store path that is a
// directory has a layer of its own named after it (internal/cnb), which
// that link reaches in one symlink hop. The other paths of the closure
// (grouped beyond BP_NIX_MAX_LAYERS, or files) live inside other layers
// and are missing there: fillHoles links them, as the view does, from
// that directory when it is writable (the cnb user owns it), which costs
// one symlink per missing path at start. Where it is not (a read-only root
// file system), native is not chosen and a slower strategy runs instead.

// fillHoles makes nixStore (/nix/store) hold every store path of nixDir
// (the view layer's nix/) when nixStore is the directory of the layer
// holding nixDir: each missing path is linked there to where the view links
// it. It returns an error when nixStore is something else or a link cannot
// be made.
func fillHoles(nixStore, nixDir string) error {
	layers := filepath.Dir(filepath.Dir(nixDir))
	a, err := os.Stat(nixStore)
	if err != nil {
		return err
	}
	if b, err := os.Stat(layers); err != nil || !os.SameFile(a, b) {
		return fmt.Errorf("%s is not %s", nixStore, layers)
	}
	entries, err := os.ReadDir(filepath.Join(nixDir, "store"))
	if err != nil {
		return err
	}
	for _, e := range entries {
		at := filepath.Join(nixStore, e.Name())
		if _, err := os.Lstat(at); err == nil {
			continue
		}
		target, err := os.Readlink(filepath.Join(nixDir, "store", e.Name()))
		if err != nil {
			return fmt.Errorf("%s is missing and the view holds no link for it\n%w", at, err)
		}
		if err := os.Symlink(target, filepath.Join(layers, e.Name())); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("unable to link %s (a store path outside a layer of its own)\n%w", at, err)
		}
	}
	return nil
}
