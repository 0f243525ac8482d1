package heroku

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

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
)

// nixSource resolves the Nix installer tarball: the buildpack.toml
// dependency through libpak's dependency cache (the buildpack's own
// dependencies/ directory, else a download checked against the pin), or a
// local tarball named by NIXBP_NIX_TARBALL, checked here, before anything
// is installed, against NIXBP_NIX_TARBALL_SHA256 or the pin.
func nixSource(bp libcnb.Buildpack, md libpak.BuildModuleMetadata, s Settings, stack string, logger log.Logger) (nixinstall.Source, error) {
	dr, err := libpak.NewDependencyResolver(md, stack)
	if err != nil {
		return nixinstall.Source{}, fmt.Errorf("unable to create dependency resolver\n%w", err)
	}
	dep, err := dr.Resolve("nix", s.NixVersion)
	if err != nil {
		return nixinstall.Source{}, fmt.Errorf("unable to find the Nix dependency in buildpack.toml\n%w", err)
	}
	if s.Tarball.Path != "" {
		return localSource(s.Tarball, dep, logger)
	}
	dc, err := libpak.NewDependencyCache(bp.Info.ID, bp.Info.Version, bp.Path, nil, logger)
	if err != nil {
		return nixinstall.Source{}, fmt.Errorf("unable to create dependency cache\n%w", err)
	}
	return nixinstall.Source{
		Version:  dep.Version,
		Checksum: dep.GetChecksum().Hash(),
		Open: func() (io.ReadCloser, error) {
			logger.Headerf("Fetching Nix %s", dep.Version)
			return dc.Artifact(dep)
		},
	}, nil
}

var tarballName = regexp.MustCompile(`^nix-([0-9][^-]*(?:-pre[^-]*)?)-[a-z0-9_]+-linux\.tar\.xz$`)

func localSource(t LocalTarball, pin libpak.BuildModuleDependency, logger log.Logger) (nixinstall.Source, error) {
	sum, err := fileSHA256(t.Path)
	if err != nil {
		return nixinstall.Source{}, fmt.Errorf("%s: unable to read the Nix installer tarball %s\n%w\nput the tarball there, readable by the build user, or unset %s",
			TarballVar, t.Path, err, TarballVar)
	}
	want, against := t.SHA256, TarballSHA256Var
	if want == "" {
		want, against = pin.GetChecksum().Hash(), fmt.Sprintf("the buildpack.toml pin of Nix %s", pin.Version)
	}
	if sum != want {
		return nixinstall.Source{}, fmt.Errorf("%s: %s has sha256 %s, which does not match %s (%s)\n"+
			"use the tarball the buildpack pins, or, for an offline or air-gapped build with another Nix, set %s=%s after checking the file",
			TarballVar, t.Path, sum, against, want, TarballSHA256Var, sum)
	}
	version := pin.Version
	if sum != pin.GetChecksum().Hash() {
		m := tarballName.FindStringSubmatch(filepath.Base(t.Path))
		if m == nil {
			return nixinstall.Source{}, fmt.Errorf("%s: %s is not named like a Nix installer tarball (nix-<version>-<system>.tar.xz)\n"+
				"keep the release's file name: the version in it finds Nix's store path in the tarball", TarballVar, t.Path)
		}
		version = m[1]
	}
	return nixinstall.Source{
		Version:  version,
		Checksum: sum,
		Open: func() (io.ReadCloser, error) {
			logger.Headerf("Using Nix %s from %s (%s)", version, t.Path, TarballVar)
			return os.Open(t.Path)
		},
	}, nil
}

func fileSHA256(path string) (string, error) {
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
