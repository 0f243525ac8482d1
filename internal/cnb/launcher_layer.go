package cnb

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/buildpacks/libcnb/v2"
	"github.com/paketo-buildpacks/libpak/v2"
	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/launch"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
)

// launcherLayerName is the layer holding bin/nixbp-launch and, when the
// buildpack bundles one, bin/proot.
const launcherLayerName = "launcher"

// launcherLayer holds nixbp-launch and the bundled static proot (for run
// images without one), keyed by their sha256 through libpak's
// LayerContributor, so it is the same layer (and blob) in every app built
// by the same buildpack.
type launcherLayer struct {
	contributor libpak.LayerContributor
	// files maps each file's path in the buildpack to its name in bin/.
	files map[string]string
}

// newLauncherLayer finds the launcher (and proot) in the buildpack and
// keys them.
func newLauncherLayer(buildpackDir string, logger log.Logger) (*launcherLayer, error) {
	sum, err := launcherDigest(buildpackDir)
	if err != nil {
		return nil, err
	}
	files := map[string]string{launch.Binary(buildpackDir): "nixbp-launch"}
	if p := launch.PRoot(buildpackDir); p != "" {
		files[p] = "proot"
	}
	return &launcherLayer{files: files, contributor: libpak.NewLayerContributor("nixbp-launch",
		map[string]string{"sha256": sum}, libcnb.LayerTypes{Launch: true}, logger)}, nil
}

// Name is the layer's name.
func (l *launcherLayer) Name() string { return launcherLayerName }

// Contribute copies the files unless the layer already holds these.
func (l *launcherLayer) Contribute(layer *libcnb.Layer) error {
	return l.contributor.Contribute(layer, func(layer *libcnb.Layer) error {
		if err := os.MkdirAll(filepath.Join(layer.Path, "bin"), 0o755); err != nil {
			return err
		}
		for src, name := range l.files {
			data, err := os.ReadFile(src)
			if err != nil {
				return fmt.Errorf("unable to read %s\n%w", src, err)
			}
			if err := os.WriteFile(filepath.Join(layer.Path, "bin", name), data, 0o755); err != nil {
				return err
			}
		}
		return nil
	})
}

// launcherDigest is the launcher layer's key: the sha256 of the buildpack's
// nixbp-launch or, when the buildpack bundles proot, the sha256 of both
// files' sha256.
func launcherDigest(buildpackDir string) (string, error) {
	src := launch.Binary(buildpackDir)
	sum, err := nixinstall.FileSHA256(src)
	if err != nil {
		return "", fmt.Errorf("unable to read %s\n%w", src, err)
	}
	p := launch.PRoot(buildpackDir)
	if p == "" {
		return sum, nil
	}
	psum, err := nixinstall.FileSHA256(p)
	if err != nil {
		return "", fmt.Errorf("unable to read %s\n%w", p, err)
	}
	both := sha256.Sum256([]byte(sum + " nixbp-launch\n" + psum + " proot\n"))
	return hex.EncodeToString(both[:]), nil
}
