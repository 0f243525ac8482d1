package pipeline

import (
	"fmt"
	"os"

	"github.com/nix-buildpack/nix-buildpack/internal/config"
	"github.com/nix-buildpack/nix-buildpack/internal/nixgen"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// loadApp is the config step: it finds the app's expression and, when
// hop3.toml's [nix] names a template (Hop3's ADR 008), generates it first.
func loadApp(in Input) (config.App, error) {
	app, err := config.Load(in.AppDir)
	if err != nil || app.Template == "" {
		return app, err
	}
	o := nixgen.Options{ImportNixpkgs: in.NixpkgsSet || app.Nixpkgs != ""}
	spec, text, err := nixgen.ForApp(app.Dir, app.TOML, o)
	if err != nil {
		return app, err
	}
	if err := os.WriteFile(app.NixPath(), []byte(text), 0o644); err != nil {
		return app, fmt.Errorf("unable to write %s\n%w", app.NixPath(), err)
	}
	in.Log.Headerf("Generated %s from %s [nix] template = %q (Hop3's ADR 008)", app.NixFile, app.TOML, app.Template)
	if tier, note := nixgen.Tier(app.Template); tier > 0 {
		in.Log.Bodyf("Reproducibility: Hop3's tier %d of 3 for this template, %s", tier, note)
	}
	rev, sha := spec.Pin()
	switch {
	case app.Nixpkgs != "":
		in.Log.Bodyf("nixpkgs: <nixpkgs> from %s, in place of the template's pin %s", app.NixpkgsKey, rev)
	case o.ImportNixpkgs:
		in.Log.Bodyf("nixpkgs: <nixpkgs> from %s=%s, in place of the template's pin %s", settings.NixpkgsName, in.Nixpkgs, rev)
	default:
		in.Log.Bodyf("nixpkgs: pinned by the template, %s (sha256 %s); %s replaces it", nixgen.NixpkgsURL(rev), sha, settings.NixpkgsName)
	}
	in.Log.Bodyf("To edit the expression by hand: `nixbp nix eject` writes it as %s; then remove [nix] template", config.Hop3Nix)
	return app, nil
}
