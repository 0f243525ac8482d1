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
	"github.com/nix-buildpack/nix-buildpack/internal/nixstore"
)

// Store is the builder's Nix store as substitution uses it.
type Store interface {
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
		c, err := cache.Open(ctx, raw, cache.Options{TrustedKeys: cfg.TrustedPublicKeys, RequireSigs: true, Log: log, Jobs: cfg.Jobs})
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
	// Bytes is what it downloaded.
	Bytes int64
	// Elapsed is the time it took, the plan included.
	Elapsed time.Duration
}

// Run substitutes what a build of drv needs from subs into the store whose
// paths are in storeDir. A substituter that fails, or a path it cannot
// bring, is a warning in log, and the plan is made again without it, as
// Nix falls back to building a derivation whose outputs it could not
// substitute; Nix gets another chance at it during the build. An error
// means the store could not be queried or written.
func Run(ctx context.Context, storeDir string, store Store, subs []*cache.Cache, drv string, log io.Writer) (*Result, error) {
	start := time.Now()
	logf := func(format string, args ...any) { fmt.Fprintf(log, format+"\n", args...) }
	res := &Result{}
	unavailable, down := map[string]bool{}, map[*cache.Cache]bool{}
	for {
		plan, err := makePlan(ctx, storeDir, store, subs, drv, unavailable, down, logf)
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
			got, bytes, err := fetch(ctx, storeDir, store, c, want, logf)
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
	for d, why := range res.Plan.Skipped {
		logf("%s is left to Nix: %s", d, why)
	}
	slices.Sort(res.Installed)
	res.Elapsed = time.Since(start)
	return res, nil
}

// fetch installs want and their closures from c and registers them.
func fetch(ctx context.Context, storeDir string, store Store, c *cache.Cache, want []string,
	logf func(string, ...any)) ([]string, int64, error) {
	reg, err := store.StartRegistration()
	if err != nil {
		return nil, 0, err
	}
	r, err := c.Fetch(ctx, want, storeAt{dir: storeDir, Store: store})
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

// storeAt is store as Fetch installs into it: its paths in dir.
type storeAt struct {
	dir string
	Store
}

func (s storeAt) Dir() string { return s.dir }
