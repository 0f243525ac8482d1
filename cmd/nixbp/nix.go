package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/nix-buildpack/nix-buildpack/internal/config"
	"github.com/nix-buildpack/nix-buildpack/internal/nixgen"
	"github.com/nix-buildpack/nix-buildpack/internal/nixspec"
)

const nixUsage = `usage: nixbp nix generate|eject [APP_DIR]

  generate  print the Nix expression hop3.toml's [nix] template generates
  eject     write it as APP_DIR/hop3.nix (refusing to overwrite one), as hop3 nix eject does;
            then remove [nix] template from hop3.toml, and edit hop3.nix by hand

APP_DIR defaults to the current directory; hop3.toml is read from hop3/hop3.toml, else hop3.toml.
The expression pins Hop3's nixpkgs (nixos-24.11) unless [nix] nixpkgs-rev says otherwise.
`

// runNix is `nixbp nix`: the expression of a Hop3 template app.
func runNix(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || len(args) > 2 || (args[0] != "generate" && args[0] != "eject") {
		fmt.Fprint(stderr, nixUsage)
		return errors.New("expected generate or eject, and at most one APP_DIR")
	}
	dir := "."
	if len(args) == 2 {
		dir = args[1]
	}
	toml := config.FindTOML(dir)
	if toml == "" {
		return fmt.Errorf("%s has no hop3.toml (looked for %s)", dir, filepath.Join("hop3", config.Hop3TOML)+" and "+config.Hop3TOML)
	}
	_, text, err := nixgen.ForApp(dir, toml, nixgen.Options{})
	if errors.Is(err, nixspec.ErrNoTemplate) {
		return fmt.Errorf("%s has no [nix] template: nothing to generate", filepath.Join(dir, toml))
	}
	if err != nil {
		return err
	}
	if args[0] == "generate" {
		_, err := io.WriteString(stdout, text)
		return err
	}
	out := filepath.Join(dir, config.Hop3Nix)
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists: refusing to overwrite it\nmove it away first, or keep it and remove [nix] template from %s", out, toml)
	}
	if err != nil {
		return fmt.Errorf("unable to create %s\n%w", out, err)
	}
	if _, err := io.WriteString(f, text); err != nil {
		f.Close()
		return fmt.Errorf("unable to write %s\n%w", out, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("unable to write %s\n%w", out, err)
	}
	fmt.Fprintf(stdout, "Wrote %s. Now remove [nix] template from %s (the build refuses both together), and edit %s as you need.\n",
		out, toml, config.Hop3Nix)
	return nil
}
