package nixinstall

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"github.com/buildpacks/libcnb/v2"
	"github.com/paketo-buildpacks/libpak/v2"
	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// Dependency says where the buildpack's Nix dependency comes from.
type Dependency struct {
	// Buildpack is the buildpack (its buildpack.toml and directory).
	Buildpack libcnb.Buildpack
	// Metadata is buildpack.toml's metadata (dependencies, configurations).
	Metadata libpak.BuildModuleMetadata
	// Stack is the platform's stack, matched against the dependency's.
	Stack string
	// Bindings are the platform's bindings (dependency-mapping), if any.
	Bindings libcnb.Bindings
}

// Resolve finds the Nix installer tarball: the buildpack.toml dependency
// matching the wanted version through libpak's dependency cache (the
// buildpack's own dependencies/ directory, a dependency-mapping binding,
// else a download checked against the pin), or a local tarball
// (BP_NIX_TARBALL), checked here, before anything is installed, against
// its given sha256 or the pin.
func Resolve(d Dependency, version string, local settings.Tarball, logger log.Logger) (Tarball, error) {
	dr, err := libpak.NewDependencyResolver(d.Metadata, d.Stack)
	if err != nil {
		return Tarball{}, fmt.Errorf("unable to create dependency resolver\n%w", err)
	}
	dep, err := dr.Resolve("nix", version)
	if err != nil {
		return Tarball{}, fmt.Errorf("unable to find the Nix dependency in buildpack.toml\n%w", err)
	}
	if local.Path != "" {
		return localTarball(local, dep, logger)
	}
	dc, err := libpak.NewDependencyCache(d.Buildpack.Info.ID, d.Buildpack.Info.Version, d.Buildpack.Path, d.Bindings, logger)
	if err != nil {
		return Tarball{}, fmt.Errorf("unable to create dependency cache\n%w", err)
	}
	return Tarball{
		Version:  dep.Version,
		Checksum: dep.GetChecksum().Hash(),
		Open: func() (io.ReadCloser, error) {
			logger.Headerf("Fetching Nix %s", dep.Version)
			return dc.Artifact(dep)
		},
	}, nil
}

var tarballName = regexp.MustCompile(`^nix-([0-9][^-]*(?:-pre[^-]*)?)-[a-z0-9_]+-linux\.tar\.xz$`)

func localTarball(t settings.Tarball, pin libpak.BuildModuleDependency, logger log.Logger) (Tarball, error) {
	sum, err := FileSHA256(t.Path)
	if err != nil {
		return Tarball{}, fmt.Errorf("%s: unable to read the Nix installer tarball %s\n%w\nput the tarball there, readable by the build user, or unset %s",
			settings.TarballName, t.Path, err, settings.TarballName)
	}
	want, against := t.SHA256, settings.TarballSHA256
	if want == "" {
		want, against = pin.GetChecksum().Hash(), fmt.Sprintf("the buildpack.toml pin of Nix %s", pin.Version)
	}
	if sum != want {
		return Tarball{}, fmt.Errorf("%s: %s has sha256 %s, which does not match %s (%s)\n"+
			"use the tarball the buildpack pins, or, for an offline or air-gapped build with another Nix, set %s=%s after checking the file",
			settings.TarballName, t.Path, sum, against, want, settings.TarballSHA256, sum)
	}
	version := pin.Version
	if sum != pin.GetChecksum().Hash() {
		m := tarballName.FindStringSubmatch(filepath.Base(t.Path))
		if m == nil {
			return Tarball{}, fmt.Errorf("%s: %s is not named like a Nix installer tarball (nix-<version>-<system>.tar.xz)\n"+
				"keep the release's file name: the version in it finds Nix's store path in the tarball", settings.TarballName, t.Path)
		}
		version = m[1]
	}
	return Tarball{
		Version:  version,
		Checksum: sum,
		Open: func() (io.ReadCloser, error) {
			logger.Headerf("Using Nix %s from %s (%s)", version, t.Path, settings.TarballName)
			return os.Open(t.Path)
		},
	}, nil
}

// FileSHA256 is the hex sha256 of a file's contents.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
