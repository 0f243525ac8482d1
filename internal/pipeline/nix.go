package pipeline

import (
	"io"
	"time"

	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/caching"
	"github.com/nix-buildpack/nix-buildpack/internal/config"
	"github.com/nix-buildpack/nix-buildpack/internal/nixbuild"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/nixstore"
	"github.com/nix-buildpack/nix-buildpack/internal/sbom"
	"github.com/nix-buildpack/nix-buildpack/internal/storegc"
)

// Nix is an installed Nix as the pipeline uses it: its store (the
// directory Nix shows at /nix/store, queries, validity, registration) and
// the evaluation and build of the app's expression. installedNix runs the
// Nix nixinstall installed; the pipeline's tests use a fake
// (internal/pipeline/fake), so that its decisions are tested without Nix.
type Nix interface {
	caching.Nix
	// Build builds the app's package and returns its output.
	Build(app config.App, opts nixbuild.Options, log io.Writer) (string, error)
	// Attributes evaluates the workers/env/path attributes and realises
	// the store paths they refer to.
	Attributes(app config.App, opts nixbuild.Options, log io.Writer) (nixbuild.Attrs, error)
	// Strategy is how Nix sees its store at /nix.
	Strategy() nixmount.Strategy
	// Collect keeps what the next build wants (<nixpkgs>, the output's
	// closure) and collects the rest of the store, as opts say; a failure
	// is a warning.
	Collect(log log.Logger, output string, opts storegc.Options)
	// Provenance is the nixpkgs the app was built with, for the SBOM.
	Provenance(app config.App) sbom.Provenance
}

// installNix makes Nix usable in NixDir: it reuses or installs the
// installer tarball, opens the /nix view with the wanted strategy and
// writes nix.conf.
func installNix(in Input) (Nix, error) {
	start := time.Now()
	nix, err := nixinstall.Ensure(in.NixDir, in.Installer, in.Strategy, in.NixConf, nixmount.Hiding(in.Secrets.paths()...))
	if err != nil {
		return nil, err
	}
	verb := "Installed"
	if nix.Reused {
		verb = "Reusing"
	}
	in.Log.Headerf("%s Nix %s (%s), /nix through %s, in %s", verb, nix.Version, nix.StorePath, nix.View.Through(),
		time.Since(start).Round(time.Millisecond))
	logSeal(in, nix)
	if nix.Sandbox.On {
		in.Log.Bodyf("Nix's sandbox: on (builds see only their inputs, and no network but fixed-output derivations; %s)", nix.Sandbox.Why)
	} else {
		in.Log.Bodyf("Nix's sandbox: off (%s)", nix.Sandbox.Why)
	}
	unpackNixpkgs(in, &nix)
	return installedNix{Store: nix.Store(), nix: nix}, nil
}

// installedNix is the Nix nixinstall installed: its store through
// nixstore, evaluation and builds through nixbuild.
type installedNix struct {
	nixstore.Store
	nix nixinstall.Nix
}

func (n installedNix) Instantiate(app config.App) (string, error) {
	return nixbuild.Instantiate(n.nix, app)
}

func (n installedNix) Build(app config.App, opts nixbuild.Options, log io.Writer) (string, error) {
	return nixbuild.Build(n.nix, app, opts, log)
}

func (n installedNix) Strategy() nixmount.Strategy { return n.nix.View.Strategy }

func (n installedNix) Attributes(app config.App, opts nixbuild.Options, log io.Writer) (nixbuild.Attrs, error) {
	return nixbuild.Attributes(n.nix, app, opts, log)
}

// Collect roots the <nixpkgs> tarball Nix unpacked, if any, so that the
// collection keeps it for the next build (a failure only warns: the next
// build downloads it again), then collects the store (storegc.Step).
func (n installedNix) Collect(logger log.Logger, output string, opts storegc.Options) {
	kept, err := n.nix.KeepNixpkgs()
	switch {
	case err != nil:
		logger.Bodyf("warning: %v", err)
	case kept != "":
		logger.Bodyf("Keeping <nixpkgs> (%s, unpacked at %s) for the next build", n.nix.Nixpkgs.Spec, kept)
	}
	storegc.Step(logger, n.nix, storegc.Build{Output: output}, opts)
}

// Provenance is what the app's nixpkgs was: the flake's locked nixpkgs
// input, or <nixpkgs> and its revision (read in the store path Collect
// kept for a tarball).
func (n installedNix) Provenance(app config.App) sbom.Provenance {
	if app.Flake {
		src, rev := nixbuild.FlakeNixpkgs(app)
		return sbom.Provenance{Nixpkgs: src, NixpkgsRevision: rev}
	}
	if n.nix.Nixpkgs.Spec == "" {
		return sbom.Provenance{}
	}
	return sbom.Provenance{Nixpkgs: n.nix.Nixpkgs.String(), NixpkgsRevision: n.nix.NixpkgsRevision(n.nix.KeptNixpkgs())}
}
