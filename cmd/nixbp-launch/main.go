// Command nixbp-launch runs an app's process with its Nix store at /nix.
// It ships in the launch layer and the slug; see internal/launch.
package main

import (
	"os"

	"github.com/nix-buildpack/nix-buildpack/internal/launch"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
)

func main() {
	nixmount.MaybeRunChild()
	os.Exit(launch.Main(os.Args[1:]))
}
