// Command detect is the buildpack's bin/detect: the CNB detect phase, or,
// given one argument (BUILD_DIR), the Heroku-style detect.
package main

import (
	"os"

	"github.com/paketo-buildpacks/libpak/v2"
	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/cnb"
	"github.com/nix-buildpack/nix-buildpack/internal/heroku"
)

func main() {
	// The CNB lifecycle passes its paths in CNB_* variables (buildpack API
	// 0.8+, this buildpack's is 0.10) and no arguments; Heroku-style
	// platforms pass BUILD_DIR (anything after it is ignored).
	if len(os.Args) >= 2 && os.Getenv("CNB_BUILD_PLAN_PATH") == "" {
		os.Exit(heroku.Detect(os.Args[1], os.Stdout, os.Stderr))
	}
	logger := log.NewPaketoLogger(os.Stdout)
	libpak.BuildpackMain(cnb.NewDetect(logger), cnb.NewBuild(logger))
}
