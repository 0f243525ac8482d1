// Package tree removes directory trees copied from or living in a Nix store,
// whose directories Nix leaves read-only. It is the one remover every step
// uses.
package tree

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Remove removes a tree copied from a Nix store, whose directories are
// read-only (0555) as Nix leaves them, so a plain RemoveAll fails as a
// non-root user. A missing dir is not an error.
func Remove(dir string) error {
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
