package pipeline

import (
	"context"
	"strings"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/caching"
	"github.com/nix-buildpack/nix-buildpack/internal/config"
	"github.com/nix-buildpack/nix-buildpack/internal/nixbuild"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/substitute"
)

// substituteNatively is the step before nix-build (package substitute):
// what the build needs from the substituters of nix.conf is fetched by
// this process straight into the store directory, verified and registered,
// so that Nix builds only what is left; under the strategies where that
// was measured faster than Nix's own substitution. It evaluates the app
// unless the restore did, and only when a substituter can be read. A
// failure is a warning: Nix substitutes what this step did not bring. It
// returns the build options, which tell Nix to skip the substituters this
// step found down (Nix would spend its own series of attempts on each).
func substituteNatively(in Input, nix Nix, app config.App, restored *caching.Restored) (nixbuild.Options, error) {
	opts := in.Build
	ok, why := substitute.Natively(nix.Strategy())
	cfg := substitute.Config{Substituters: in.NixConf.AllSubstituters(), TrustedPublicKeys: in.NixConf.AllTrustedPublicKeys(),
		ConnectTimeout: nixinstall.ConnectTimeout * time.Second}
	if len(cfg.Substituters) == 0 {
		return opts, nil
	}
	if !ok {
		in.Log.Bodyf("Nix substitutes during the build: %s", why)
		return opts, nil
	}
	in.Log.Headerf("Substituting natively: %s", why)
	var evalErr error // the build would fail the same way: an error
	drv := func() (string, error) {
		if restored.Drv != "" {
			return restored.Drv, nil
		}
		start := time.Now()
		d, err := nix.Instantiate(app)
		if err == nil {
			in.Log.Bodyf("Evaluated %s to %s in %s", app.NixFile, d, time.Since(start).Round(time.Millisecond))
		}
		evalErr = err
		return d, err
	}
	_, usable, err := substitute.Before(context.Background(), nix, drv, cfg, in.Log.BodyWriter())
	if evalErr != nil {
		return opts, evalErr
	}
	if err != nil {
		in.Log.Bodyf("warning: native substitution failed, Nix substitutes instead: %v", err)
	}
	if len(usable) < len(cfg.Substituters) {
		if len(usable) == 0 {
			in.Log.Bodyf("Nix is told not to substitute in this build: every substituter was found down (it would try each again)")
		} else {
			in.Log.Bodyf("Nix is told to substitute only from %s in this build: the others were found down", strings.Join(usable, " "))
		}
		// Before the user's arguments, which win.
		opts.Args = append([]string{"--option", "substituters", strings.Join(usable, " ")}, opts.Args...)
	}
	return opts, nil
}
