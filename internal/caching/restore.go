package caching

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/cache"
	"github.com/nix-buildpack/nix-buildpack/internal/cache/storedir"
	"github.com/nix-buildpack/nix-buildpack/internal/config"
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
	"github.com/nix-buildpack/nix-buildpack/internal/nixstore"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// Store is the builder's Nix store as restoring and pushing use it:
// nixstore.Store, or a fake in tests.
type Store interface {
	storedir.Store
	// Infos are the database's records of paths.
	Infos(paths []string) ([]narinfo.PathInfo, error)
	// Requisites is the closure of paths.
	Requisites(paths ...string) ([]string, error)
	// Outputs are the output paths of derivations.
	Outputs(drvs ...string) ([]string, error)
	// StartRegistration starts registering paths a Fetch installs.
	StartRegistration() (nixstore.Registration, error)
}

// Nix is the builder's Nix as a restore uses it: its store, and the
// evaluation of the app's expression into its derivation.
type Nix interface {
	Store
	Instantiate(app config.App) (string, error)
}

// Restored is what Restore installed.
type Restored struct {
	// Output is the build output when its whole closure was restored, or "".
	Output string
	// ByPointer says the output was found without evaluating Nix.
	ByPointer bool
	// Drv is the app's derivation when Restore evaluated the app ("" when
	// it did not), so that a build step after it need not evaluate again.
	Drv string
	// Installed are the store paths installed from caches.
	Installed map[string]bool
	// Bytes is what was downloaded.
	Bytes int64
}

// Restore installs what the caches have before a build: through the source
// pointer of digest (no evaluation at all), else the output's closure, else
// the build-time inputs. A cache that fails is a warning in log, never an
// error; only an evaluation error is. Nothing is restored under the policy
// always, or without a digest.
func (c Caches) Restore(ctx context.Context, nix Nix, app config.App, digest string, log io.Writer) (*Restored, error) {
	r := &restore{c: c, nix: nix, log: log, res: &Restored{Installed: map[string]bool{}}}
	if c.Policy == settings.BuildAlways || !c.Any() || digest == "" {
		return r.res, nil
	}
	if r.byPointer(ctx, digest, app) {
		return r.res, nil
	}
	drv, err := nix.Instantiate(app)
	if err != nil {
		return nil, err
	}
	r.res.Drv = drv
	if ok, err := r.byOutput(ctx, drv, digest); ok || err != nil {
		return r.res, err
	}
	return r.res, r.inputs(ctx, drv)
}

// restore is the state of one Restore.
type restore struct {
	c   Caches
	nix Nix
	log io.Writer
	res *Restored
	// repoint says the write cache's pointer is missing or wrong.
	repoint bool
}

// byPointer follows the caches' source pointers, in order, to an output
// whose closure it can restore.
func (r *restore) byPointer(ctx context.Context, digest string, app config.App) bool {
	for _, ch := range r.c.All() {
		ptr, err := ch.ReadPointer(ctx, digest)
		if err != nil {
			fmt.Fprintf(r.log, "warning: %v; evaluating %s instead\n", err, app.NixFile)
			r.repoint = r.repoint || ch == r.c.Write
			continue
		}
		if ptr == nil {
			r.repoint = r.repoint || ch == r.c.Write
			continue
		}
		// A pointer is followed only to a path the Nix database holds as
		// valid once fetched (so its whole closure is), never to one that
		// is merely on disk.
		if r.fetch(ctx, []string{ptr.Output}) {
			r.res.Output, r.res.ByPointer = ptr.Output, true
			return true
		}
		fmt.Fprintf(r.log, "warning: the source pointer in %s names %s, whose closure could not be restored; evaluating %s instead\n",
			ch, ptr.Output, app.NixFile)
		r.repoint = r.repoint || ch == r.c.Write
	}
	return false
}

// byOutput restores the derivation's outputs; when they all came, the
// write cache's pointer is set right.
func (r *restore) byOutput(ctx context.Context, drv, digest string) (bool, error) {
	outputs, err := r.nix.Outputs(drv)
	if err != nil || len(outputs) == 0 {
		return false, fmt.Errorf("unable to query the outputs of %s\n%w", drv, err)
	}
	if !r.fetch(ctx, outputs) {
		return false, nil
	}
	r.res.Output = outputs[len(outputs)-1]
	if r.repoint {
		writePointer(ctx, r.c.Write, digest, r.res.Output, r.log)
	}
	return true, nil
}

// inputs restores the build-time inputs the caches have.
func (r *restore) inputs(ctx context.Context, drv string) error {
	reqs, err := r.nix.Requisites(drv)
	if err != nil {
		return err
	}
	var drvs []string
	for _, p := range reqs {
		if strings.HasSuffix(p, ".drv") && p != drv {
			drvs = append(drvs, p)
		}
	}
	if len(drvs) > 0 {
		inputs, err := r.nix.Outputs(drvs...)
		if err != nil {
			return err
		}
		r.fetch(ctx, inputs)
	}
	return nil
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
func (r *restore) fetch(ctx context.Context, paths []string) bool {
	want, err := invalid(r.nix, paths)
	if err != nil {
		fmt.Fprintf(r.log, "warning: %v\n", err)
		return false
	}
	for _, ch := range r.c.All() {
		if len(want) == 0 {
			break
		}
		reg, err := r.nix.StartRegistration()
		if err != nil {
			fmt.Fprintf(r.log, "warning: %v\n", err)
			return false
		}
		f, err := ch.Fetch(ctx, want, r.nix)
		if err != nil {
			_ = reg.Finish(nil)
			fmt.Fprintf(r.log, "warning: fetching from %s: %v\n", ch, err)
			continue
		}
		// f.Warnings were already written to log by the cache (Options.Log).
		if err := reg.Finish(f.Installed); err != nil {
			fmt.Fprintf(r.log, "warning: %v\n", err)
			return false
		}
		if len(f.Installed) > 0 {
			for _, p := range f.Installed {
				r.res.Installed[p.StorePath] = true
			}
			r.res.Bytes += f.DownloadedBytes
			fmt.Fprintf(r.log, "Restored %d store paths (%s downloaded) from %s in %s\n", len(f.Installed),
				humanBytes(f.DownloadedBytes), ch, f.Elapsed.Round(1e6))
		}
		if want, err = invalid(r.nix, want); err != nil {
			fmt.Fprintf(r.log, "warning: %v\n", err)
			return false
		}
	}
	return len(want) == 0
}

// invalid keeps the paths the store does not hold as valid, in order.
func invalid(s storedir.Store, paths []string) ([]string, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	valid, err := s.Valid(paths)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range paths {
		if !valid[p] {
			out = append(out, p)
		}
	}
	return out, nil
}
