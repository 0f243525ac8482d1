package cnb

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/buildpacks/libcnb/v2"
	"github.com/paketo-buildpacks/libpak/v2"
	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/launch"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
)

// launcherLayerName is the layer holding bin/nixbp-launch.
const launcherLayerName = "launcher"

// launcherLayer holds nixbp-launch, keyed by the binary's sha256 through
// libpak's LayerContributor, so it is the same layer (and blob) in every app
// built by the same buildpack.
type launcherLayer struct {
	contributor libpak.LayerContributor
	src         string
}

// newLauncherLayer finds the launcher in the buildpack and keys it.
func newLauncherLayer(buildpackDir string, logger log.Logger) (*launcherLayer, error) {
	src := launch.Binary(buildpackDir)
	sum, err := launcherDigest(buildpackDir)
	if err != nil {
		return nil, err
	}
	return &launcherLayer{src: src, contributor: libpak.NewLayerContributor("nixbp-launch",
		map[string]string{"sha256": sum}, libcnb.LayerTypes{Launch: true}, logger)}, nil
}

// Name is the layer's name.
func (l *launcherLayer) Name() string { return launcherLayerName }

// Contribute copies the launcher unless the layer already holds this one.
func (l *launcherLayer) Contribute(layer *libcnb.Layer) error {
	return l.contributor.Contribute(layer, func(layer *libcnb.Layer) error {
		data, err := os.ReadFile(l.src)
		if err != nil {
			return fmt.Errorf("unable to read %s\n%w", l.src, err)
		}
		dst := filepath.Join(layer.Path, "bin", "nixbp-launch")
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o755)
	})
}

// launcherDigest is the sha256 of the buildpack's nixbp-launch, the
// launcher layer's key.
func launcherDigest(buildpackDir string) (string, error) {
	src := launch.Binary(buildpackDir)
	sum, err := nixinstall.FileSHA256(src)
	if err != nil {
		return "", fmt.Errorf("unable to read %s\n%w", src, err)
	}
	return sum, nil
}
