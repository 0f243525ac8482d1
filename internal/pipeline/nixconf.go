package pipeline

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/config"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// nixConf completes the Nix configuration for this app: <nixpkgs> from
// hop3.toml or the setting, and the closure caches as extra substituters,
// so that what the restore did not bring is still substituted by Nix.
func nixConf(in Input, app config.App) (nixinstall.Conf, error) {
	s := in.NixConf
	n, origin, err := resolveNixpkgs(in, app)
	if err != nil {
		return s, err
	}
	s.Nixpkgs = n
	switch {
	case app.Flake:
		if app.Nixpkgs != "" {
			in.Log.Bodyf("%s is not applied: a flake's nixpkgs is an input, pinned by flake.lock", app.NixpkgsKey)
		}
	case n.Entry != "":
		in.Log.Bodyf("<nixpkgs> is %s, from %s (an expression that pins its own nixpkgs is not affected)", n, origin)
		if n.Moves() {
			in.Log.Bodyf("  %s", nixinstall.PinHint)
		}
	default:
		in.Log.Bodyf("<nixpkgs> is not set (%s is empty): `import <nixpkgs>` fails", settings.NixpkgsName)
	}

	signed := len(s.TrustedPublicKeys)+len(s.ExtraTrustedPublicKeys) > 0
	for _, c := range in.Caches.All() {
		u, err := url.Parse(c.String())
		switch {
		case err != nil:
		case !signed:
			in.Log.Bodyf("%s is not a substituter for nix-build: Nix takes only signed paths, and no key is trusted (%s)", c, settings.TrustedKeysName)
		case u.Scheme == "s3":
			in.Log.Bodyf("%s is not a substituter for nix-build: this Nix has no S3 support (the restore still reads it)", c)
		case u.Scheme == "oci":
			in.Log.Bodyf("%s is not a substituter for nix-build: Nix cannot read an OCI registry (the restore still reads it)", c)
		case u.User != nil:
			in.Log.Bodyf("%s is not a substituter for nix-build: Nix reads credentials from netrc, not from the URL", c)
		case u.Scheme == "http" || u.Scheme == "https" || u.Scheme == "file":
			s.ExtraSubstituters = append(s.ExtraSubstituters, c.String())
		}
	}
	if subs := s.AllSubstituters(); len(subs) > 0 {
		in.Log.Bodyf("Substituters: %s (%d trusted keys; an unreachable one costs one bounded attempt, then Nix builds)",
			strings.Join(subs, " "), len(s.AllTrustedPublicKeys()))
	} else {
		in.Log.Bodyf("Substituters: none (Nix builds everything the caches did not restore)")
	}
	return s, nil
}

// resolveNixpkgs resolves what <nixpkgs> is for the app: hop3.toml's [build.nix]
// nixpkgs, else the setting; nothing for a flake, which evaluates purely
// (its nixpkgs is an input pinned by flake.lock). origin names the source.
func resolveNixpkgs(in Input, app config.App) (n nixinstall.Nixpkgs, origin string, err error) {
	spec, origin := in.Nixpkgs, settings.NixpkgsName
	if app.Nixpkgs != "" {
		spec, origin = app.Nixpkgs, app.NixpkgsKey
	}
	if app.Flake || spec == "" {
		return nixinstall.Nixpkgs{}, origin, nil
	}
	if n, err = nixinstall.ParseNixpkgs(spec, app.Dir); err != nil {
		return n, origin, fmt.Errorf("%s: %w", origin, err)
	}
	return n, origin, nil
}

// withFlakeAttr gives a flake app the FlakeAttr setting when hop3.toml
// names no output.
func withFlakeAttr(in Input, app config.App) config.App {
	if app.Flake && app.Attr == "" && in.FlakeAttr != "" {
		app.Attr, app.AttrKey = in.FlakeAttr, settings.FlakeAttrName
	}
	return app
}
