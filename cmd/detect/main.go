// Command detect is the buildpack's bin/detect: the CNB detect phase, or,
// given one argument (BUILD_DIR), the Heroku-style detect.
package main

import (
	"os"

	"github.com/paketo-buildpacks/libpak/v2"
	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/cnb"
)

func main() {
	logger := log.NewPaketoLogger(os.Stdout)
	libpak.BuildpackMain(cnb.NewDetect(logger), cnb.NewBuild(logger))
}
