package closure

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/cache"
	"github.com/nix-buildpack/nix-buildpack/internal/config"
	"github.com/nix-buildpack/nix-buildpack/internal/nixbuild"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// Caches are the binary caches a build restores from and pushes to.
type Caches struct {
	// Read are caches to restore from, in order (Write is tried first).
	Read []*cache.Cache
	// Write receives what the build made; nil pushes nothing.
	Write *cache.Cache
	// Policy says when to build.
	Policy settings.Policy
}

func (c Caches) all() []*cache.Cache {
	if c.Write == nil {
		return c.Read
	}
	return append([]*cache.Cache{c.Write}, c.Read...)
}

// Restored is what Restore installed.
type Restored struct {
	// Output is the build output when its whole closure was restored, or "".
	Output string
	// Digest is the app source's digest (the pointer key).
	Digest string
	// ByPointer says the output was found without evaluating Nix.
	ByPointer bool
	// Installed are the store paths installed from caches.
	Installed map[string]bool
	// Bytes is what was downloaded.
	Bytes int64
}

// Restore installs what the caches have before a build: through the source
// pointer (no evaluation at all), else the output's closure, else the
// build-time inputs. A cache that fails is a warning in log, never an
// error; only an evaluation error is.
func Restore(ctx context.Context, nix nixinstall.Nix, app config.App, c Caches, log io.Writer) (*Restored, error) {
	res := &Restored{Installed: map[string]bool{}}
	if c.Policy == settings.BuildAlways || len(c.all()) == 0 {
		return res, nil
	}
	digest, err := SourceDigest(app.Dir)
	if err != nil {
		return nil, err
	}
	res.Digest = digest
	repoint := false // the write cache's pointer is missing or wrong
	for _, ch := range c.all() {
		ptr, err := ch.ReadPointer(ctx, digest)
		if err != nil {
			fmt.Fprintf(log, "warning: %v; evaluating %s instead\n", err, app.NixFile)
			repoint = repoint || ch == c.Write
			continue
		}
		if ptr == nil {
			repoint = repoint || ch == c.Write
			continue
		}
		// A pointer is followed only to a path the Nix database holds as
		// valid once fetched (so its whole closure is), never to one that
		// is merely on disk.
		if fetch(ctx, nix, []string{ptr.Output}, c, res, log) {
			res.Output, res.ByPointer = ptr.Output, true
			return res, nil
		}
		fmt.Fprintf(log, "warning: the source pointer in %s names %s, whose closure could not be restored; evaluating %s instead\n",
			ch, ptr.Output, app.NixFile)
		repoint = repoint || ch == c.Write
	}
	drv, err := nixbuild.Instantiate(nix, app)
	if err != nil {
		return nil, err
	}
	outputs, err := nix.Store().Outputs(drv)
	if err != nil || len(outputs) == 0 {
		return nil, fmt.Errorf("unable to query the outputs of %s\n%w", drv, err)
	}
	if fetch(ctx, nix, outputs, c, res, log) {
		res.Output = outputs[len(outputs)-1]
		if repoint {
			writePointer(ctx, c.Write, digest, res.Output, log)
		}
		return res, nil
	}
	// Not all there: fetch the build-time inputs the caches have.
	reqs, err := nix.Store().Requisites(drv)
	if err != nil {
		return nil, err
	}
	var drvs []string
	for _, r := range reqs {
		if strings.HasSuffix(r, ".drv") && r != drv {
			drvs = append(drvs, r)
		}
	}
	if len(drvs) > 0 {
		inputs, err := nix.Store().Outputs(drvs...)
		if err != nil {
			return nil, err
		}
		fetch(ctx, nix, inputs, c, res, log)
	}
	return res, nil
}

// writePointer points digest at output in the write cache, which lacked a
// good pointer, when that cache holds the output (so no build will push
// and write it): the next build with this source skips evaluation.
func writePointer(ctx context.Context, w *cache.Cache, digest, output string, log io.Writer) {
	if ok, err := w.Has(ctx, output); err != nil || !ok {
		return
	}
	if err := w.WritePointer(ctx, digest, output); err != nil {
		fmt.Fprintf(log, "warning: %v\n", err)
		return
	}
	fmt.Fprintf(log, "Wrote the source pointer to %s in %s\n", output, w)
}

// fetch installs paths and their closures from the caches in turn,
// registering what each installed, and reports whether all are present.
func fetch(ctx context.Context, nix nixinstall.Nix, paths []string, c Caches, res *Restored, log io.Writer) bool {
	store := nix.Store()
	want, err := store.Invalid(paths)
	if err != nil {
		fmt.Fprintf(log, "warning: %v\n", err)
		return false
	}
	for _, ch := range c.all() {
		if len(want) == 0 {
			break
		}
		reg, err := store.StartRegistration()
		if err != nil {
			fmt.Fprintf(log, "warning: %v\n", err)
			return false
		}
		r, err := ch.Fetch(ctx, want, cache.Store{Dir: store.Dir, Valid: store.Valid})
		if err != nil {
			_ = reg.Finish(nil)
			fmt.Fprintf(log, "warning: fetching from %s: %v\n", ch, err)
			continue
		}
		// r.Warnings were already written to log by the cache (Options.Log).
		if err := reg.Finish(r.Installed); err != nil {
			fmt.Fprintf(log, "warning: %v\n", err)
			return false
		}
		if len(r.Installed) > 0 {
			for _, p := range r.Installed {
				res.Installed[p.StorePath] = true
			}
			res.Bytes += r.DownloadedBytes
			fmt.Fprintf(log, "Restored %d store paths (%s downloaded) from %s in %s\n", len(r.Installed),
				humanBytes(r.DownloadedBytes), ch, r.Elapsed.Round(1e6))
		}
		if want, err = store.Invalid(want); err != nil {
			fmt.Fprintf(log, "warning: %v\n", err)
			return false
		}
	}
	return len(want) == 0
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
