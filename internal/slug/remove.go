package slug

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// RemoveTree removes a tree copied from a Nix store, whose directories are
// read-only (0555) as Nix leaves them, so a plain RemoveAll fails as a
// non-root user. A missing dir is not an error.
func RemoveTree(dir string) error {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	if err := os.RemoveAll(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("unable to remove %s\n%w", dir, err)
	}
	return nil
}
