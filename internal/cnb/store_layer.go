package cnb

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/buildpacks/libcnb/v2"
	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/layering"
	"github.com/nix-buildpack/nix-buildpack/internal/tree"
)

// storeLayer is one launch layer of store paths (store-<hash> for one path,
// store-group-<digest> for the grouped rest), filled by moving the paths out
// of the staged, pruned closure (or of its relocated copy). Its metadata is
// its store paths, the .slugexclude digest and, when relocated, the prefix:
// contents depend on nothing else, so apps that share a path share its blob.
type storeLayer struct {
	plan   layering.Layer
	staged string
	rules  string
	logger log.Logger
	// relocated is the relocation's key (relocation.key) when staged holds
	// the relocated copy, "" for the closure as built.
	relocated string
	// reused is set by Contribute when the previous layer was kept.
	reused bool
}

// Name is the layer's name.
func (s *storeLayer) Name() string { return s.plan.Name }

func (s *storeLayer) metadata() storeMetadata {
	return storeMetadata{Paths: strings.Join(s.plan.Paths, " "), SlugExclude: s.rules, Relocated: s.relocated}
}

// Contribute leaves a layer made from the same paths and rules untouched,
// else replaces its content, and logs which and why.
func (s *storeLayer) Contribute(layer *libcnb.Layer) error {
	m := s.metadata()
	why := changes(layer.Metadata, m)
	if s.reused = len(why) == 0; s.reused {
		s.logger.Bodyf("Reusing store layer %s (%s)", s.Name(), storePaths(len(s.plan.Paths)))
	} else {
		s.logger.Bodyf("Contributing store layer %s (%s): %s", s.Name(), storePaths(len(s.plan.Paths)), strings.Join(why, "; "))
		if err := fillStoreLayer(layer.Path, s.staged, s.plan.Paths); err != nil {
			return err
		}
	}
	layer.Metadata = metadataOf(m)
	layer.LayerTypes = libcnb.LayerTypes{Launch: true}
	return nil
}

// fillStoreLayer replaces the layer's content with the named store paths,
// moved (renamed) out of staged.
func fillStoreLayer(dir, staged string, names []string) error {
	if err := tree.Remove(dir); err != nil {
		return err
	}
	store := filepath.Join(dir, "store")
	if err := os.MkdirAll(store, 0o755); err != nil {
		return fmt.Errorf("unable to create %s\n%w", store, err)
	}
	// 0755 whatever the umask: an oci:// cache wrote this layer's blob
	// with these modes (nar.PackLayer) before the layer existed.
	for _, d := range []string{dir, store} {
		if err := os.Chmod(d, 0o755); err != nil {
			return fmt.Errorf("unable to set the mode of %s\n%w", d, err)
		}
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
