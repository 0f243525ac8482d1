// Command test is the buildpack's bin/test for Heroku CI's testpack API
// (herokuish `buildpack test`, GitLab Auto Test): test BUILD_DIR ENV_DIR
// runs hop3.toml's [[test.validations]] against the slug's web process.
// See internal/heroku.
package main

import (
	"os"

	"github.com/nix-buildpack/nix-buildpack/internal/heroku"
)

func main() {
	os.Exit(heroku.CITestMain(os.Args[1:], os.Stdout, os.Stderr))
}
