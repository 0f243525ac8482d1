package pipeline

import (
	"context"

	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/caching"
	"github.com/nix-buildpack/nix-buildpack/internal/nixbuild"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
	"github.com/nix-buildpack/nix-buildpack/internal/storegc"
)

// Platform is what a front-end knows of where the build runs.
type Platform struct {
	// AppDir is the application's source.
	AppDir string
	// NixDir holds Nix's store between builds (a cache layer, CACHE_DIR/nix).
	NixDir string
	// Dependency locates the buildpack's Nix dependency.
	Dependency nixinstall.Dependency
	// Secrets are where the platform keeps secrets (the platform
	// directory, the bindings, ENV_DIR); NewInput adds the credential
	// files and the names of the secrets set.
	Secrets Secrets
	// Log receives the build log.
	Log log.Logger
}

// NewInput turns settings (with the platform's secrets already in them: a
// CNB binding, a Heroku config var) into the pipeline's input the same way
// for every front-end: the Nix installer tarball resolved and checked, the
// caches opened, the source digest taken.
func NewInput(p Platform, b settings.BuildSettings) (Input, error) {
	src, err := nixinstall.Resolve(p.Dependency, b.NixVersion, b.Tarball, p.Log)
	if err != nil {
		return Input{}, err
	}
	caches, err := caching.Open(context.Background(), b.Caches, p.Log.BodyWriter())
	if err != nil {
		return Input{}, err
	}
	digest, err := caches.SourceDigest(p.AppDir)
	if err != nil {
		return Input{}, err
	}
	if caches.Write != nil {
		p.Log.Bodyf("Closure cache (read-write, from %s): %s", b.Caches.WriteFrom, caches.Write)
	}
	secrets := p.Secrets
	secrets.AddCredentialFiles()
	secrets.Names = append(secrets.Names, b.Secrets...)
	for _, bd := range p.Dependency.Bindings {
		if bd.Type != "dependency-mapping" { // checksums and URLs, no secret
			secrets.Names = append(secrets.Names, "binding "+bd.Name+" (type "+bd.Type+")")
		}
	}
	return Input{
		AppDir:    p.AppDir,
		NixDir:    p.NixDir,
		Installer: src,
		Strategy:  b.Strategy,
		NixConf: nixinstall.Conf{Substituters: b.Substituters, ExtraSubstituters: b.ExtraSubstituters,
			TrustedPublicKeys: b.TrustedPublicKeys, ExtraTrustedPublicKeys: b.ExtraTrustedPublicKeys, Sandbox: b.Sandbox},
		Nixpkgs:      b.Nixpkgs,
		NixpkgsSet:   b.NixpkgsSet,
		FlakeAttr:    b.FlakeAttr,
		Build:        nixbuild.Options{Args: b.BuildArgs, Timeout: b.BuildTimeout, MaxSilentTime: b.MaxSilentTime},
		Caches:       caches,
		SourceDigest: digest,
		Prune:        b.Prune,
		StoreGC:      storegc.Options{Enabled: b.GC.Enabled, MaxSize: b.GC.MaxSize},
		Secrets:      secrets,
		Log:          p.Log,
	}, nil
}
