// Command release is the buildpack's bin/release for Heroku-style
// platforms: release BUILD_DIR prints the release YAML compile left behind.
package main

import (
	"os"

	"github.com/nix-buildpack/nix-buildpack/internal/heroku"
)

func main() {
	os.Exit(heroku.ReleaseMain(os.Args[1:], os.Stdout, os.Stderr))
}
