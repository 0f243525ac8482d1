// Command compile is the buildpack's bin/compile for Heroku-style platforms:
// compile BUILD_DIR CACHE_DIR [ENV_DIR]. See internal/heroku.
package main

import (
	"os"

	"github.com/nix-buildpack/nix-buildpack/internal/heroku"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
)

func main() {
	nixmount.MaybeRunChild()
	os.Exit(heroku.CompileMain(os.Args[1:], os.Stdout, os.Stderr))
}
