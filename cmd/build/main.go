// Command build is the buildpack's bin/build: the CNB build phase.
package main

import (
	"os"

	"github.com/paketo-buildpacks/libpak/v2"
	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/cnb"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
)

func main() {
	nixmount.MaybeRunChild()
	logger := log.NewPaketoLogger(os.Stdout)
	libpak.BuildpackMain(cnb.NewDetect(logger), cnb.NewBuild(logger))
}
