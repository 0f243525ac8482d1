// Package substitute is native substitution: before Nix builds a
// derivation, it asks the substituters of the Nix configuration (HTTP
// binary caches shaped like cache.nixos.org, file:// ones) which of the
// build's outputs they hold, decides what to fetch as Nix's scheduler
// would, fetches those NARs with package cache straight into the store
// directory (no /nix view, so no proot, for the writes), verified against
// each narinfo's NAR hash and the trusted keys as Nix verifies them, and
// registers them through package nixstore. Nix then builds only what is
// left, and substitutes itself whatever this step did not bring.
package substitute

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"slices"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/cache"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/nixstore"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// Store is the builder's Nix store as substitution uses it.
type Store interface {
	// Dir is the directory on disk holding the store's paths.
	Dir() string
	// Valid says which of paths the Nix database holds as valid.
	Valid(paths []string) (map[string]bool, error)
	// StartRegistration starts registering the paths a Fetch installs.
	StartRegistration() (nixstore.Registration, error)
}

// Config is the part of the Nix configuration (nix.conf) that substitution
// follows.
type Config struct {
	// Substituters are the substituters' URLs, in the order Nix tries them.
	Substituters []string
	// TrustedPublicKeys verify their narinfos (Nix's trusted-public-keys);
	// require-sigs is on, as in Nix by default.
	TrustedPublicKeys []string
	// Jobs is the number of NARs fetched at once (0: cache's default).
	Jobs int
	// ConnectTimeout bounds each connection attempt (Nix's
	// connect-timeout; 0: cache's default).
	ConnectTimeout time.Duration
}

// Open opens the substituters this package can read (http, https, file),
// as Nix would use them: each narinfo signed by a trusted key, or
// self-validating, or from a URL marked trusted=1. The others are named in
// the returned notes and left to Nix.
func Open(ctx context.Context, cfg Config, log io.Writer) ([]*cache.Cache, []string) {
	var subs []*cache.Cache
	var notes []string
	for _, raw := range cfg.Substituters {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "file") {
			notes = append(notes, fmt.Sprintf("%s is left to Nix (only http, https and file substituters are read natively)", raw))
			continue
		}
		c, err := cache.Open(ctx, raw, cache.Options{Name: settings.RedactURL(raw), TrustedKeys: cfg.TrustedPublicKeys, RequireSigs: true, Log: log, Jobs: cfg.Jobs, ConnectTimeout: cfg.ConnectTimeout})
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s is left to Nix: %v", raw, err))
			continue
		}
		subs = append(subs, c)
	}
	return subs, notes
}

// Result is what Run did.
type Result struct {
	// Plan is what it decided.
	Plan *Plan
	// Installed are the store paths it installed and registered.
	Installed []string
	// Down are the substituters found unreachable (retries exhausted):
	// Nix need not try them again in this build. One that refused (access
	// denied: Nix may have netrc credentials) is not among them.
	Down []*cache.Cache
	// Bytes is what it downloaded.
	Bytes int64
	// Elapsed is the time it took, the plan included.
	Elapsed time.Duration
}

// Run substitutes what a build of drv needs from subs into the store. A substituter that fails, or a path it cannot
// bring, is a warning in log, and the plan is made again without it, as
// Nix falls back to building a derivation whose outputs it could not
// substitute; Nix gets another chance at it during the build. An error
// means the store could not be queried or written.
func Run(ctx context.Context, store Store, subs []*cache.Cache, drv string, log io.Writer) (*Result, error) {
	start := time.Now()
	logf := func(format string, args ...any) { fmt.Fprintf(log, format+"\n", args...) }
	res := &Result{}
	unavailable, down := map[string]bool{}, map[*cache.Cache]bool{}
	for {
		plan, err := makePlan(ctx, store, subs, drv, unavailable, down, logf)
		if err != nil {
			return nil, err
		}
		res.Plan = plan
		installed := map[string]bool{}
		for _, c := range subs {
			var want []string
			for p, from := range plan.Substitute {
				if from == c {
					want = append(want, p)
				}
			}
			if len(want) == 0 {
				continue
			}
			slices.Sort(want)
			got, bytes, err := fetch(ctx, store, c, want, logf)
			if err != nil {
				return nil, err
			}
			for _, p := range got {
				installed[p] = true
			}
			res.Installed = append(res.Installed, got...)
			res.Bytes += bytes
		}
		failed := 0
		for p := range plan.Substitute {
			if !installed[p] {
				unavailable[p] = true
				failed++
			}
		}
		if failed == 0 {
			break
		}
		logf("%d planned store paths could not be substituted: planning again without them", failed)
	}
	for _, c := range subs {
		if down[c] {
			res.Down = append(res.Down, c)
		}
	}
	for d, why := range res.Plan.Skipped {
		logf("%s is left to Nix: %s", d, why)
	}
	slices.Sort(res.Installed)
	res.Elapsed = time.Since(start)
	return res, nil
}

// fetch installs want and their closures from c and registers them.
func fetch(ctx context.Context, store Store, c *cache.Cache, want []string,
	logf func(string, ...any)) ([]string, int64, error) {
	reg, err := store.StartRegistration()
	if err != nil {
		return nil, 0, err
	}
	r, err := c.Fetch(ctx, want, store)
	if err != nil {
		_ = reg.Finish(nil)
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		logf("warning: substituting from %s: %v", c, err)
		return nil, 0, nil
	}
	if err := reg.Finish(r.Installed); err != nil {
		return nil, 0, err
	}
	var out []string
	for _, p := range r.Installed {
		out = append(out, p.StorePath)
	}
	return out, r.DownloadedBytes, nil
}

// Before is the build's native substitution step: it opens the
// substituters cfg names and, when it can read one, evaluates the app (drv,
// called only then) and substitutes what building its derivation needs
// into the store, logging what it did and what it left to Nix. It does
// nothing when no substituter can be read natively. Usable are the
// substituters of cfg not found down, in order: what Nix may still try.
func Before(ctx context.Context, store Store, drv func() (string, error), cfg Config, log io.Writer) (res *Result, usable []string, err error) {
	subs, notes := Open(ctx, cfg, log)
	for _, n := range notes {
		fmt.Fprintln(log, n)
	}
	if len(subs) == 0 {
		return &Result{Plan: &Plan{}}, cfg.Substituters, nil
	}
	d, err := drv()
	if err != nil {
		return nil, cfg.Substituters, err
	}
	if res, err = Run(ctx, store, subs, d, log); err != nil {
		return nil, cfg.Substituters, err
	}
	fmt.Fprintf(log, "Substituted %d store paths natively (%.1f MiB) in %s; %d needed paths were valid, %d derivations are left for Nix to build\n",
		len(res.Installed), float64(res.Bytes)/(1<<20), res.Elapsed.Round(time.Millisecond), res.Plan.Valid, len(res.Plan.Build))
	down := map[string]bool{}
	for _, c := range res.Down {
		down[c.Redacted()] = true
	}
	for _, u := range cfg.Substituters {
		if !down[settings.RedactURL(u)] {
			usable = append(usable, u)
		}
	}
	return res, usable, nil
}

// Natively says whether native substitution runs before the build under a
// /nix strategy, and why: it is kept where it was measured faster than
// letting Nix substitute (go run ./bench/coldbuild: a cold build of a
// 300-path, 400 MiB, 20,000-file closure from a signed HTTP cache on
// loopback, 2026-12-06, load average 15-23 on 2 cores). Under proot Nix
// writes every file through ptrace; under userns and native /nix it
// registers each path in its own SQLite transaction and fetches with
// fewer NARs at once.
func Natively(s nixmount.Strategy) (bool, string) {
	switch s {
	case nixmount.PRoot:
		return true, "under proot, Nix's substitution writes every file through ptrace: measured 3.4x slower than ours (bench/coldbuild)"
	case nixmount.UserNS:
		return true, "under userns, measured 1.8x faster than Nix's own substitution (bench/coldbuild)"
	case nixmount.Native:
		return true, "with a native /nix, measured as under userns: faster than Nix's own substitution (bench/coldbuild)"
	}
	return false, fmt.Sprintf("not measured under the %s strategy: Nix substitutes", s)
}
