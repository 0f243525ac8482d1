package caching

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/cache"
	"github.com/nix-buildpack/nix-buildpack/internal/cache/storedir"
	"github.com/nix-buildpack/nix-buildpack/internal/nar"
)

// StoreEntries lists the store's entries on disk (a snapshot taken before a
// build tells what the build added).
func StoreEntries(s storedir.Store) (map[string]bool, error) {
	entries, err := os.ReadDir(s.Dir())
	if err != nil {
		return nil, fmt.Errorf("unable to list the store\n%w", err)
	}
	set := make(map[string]bool, len(entries))
	for _, e := range entries {
		set["/nix/store/"+e.Name()] = true
	}
	return set, nil
}

// Built is what a build made, for Push.
type Built struct {
	// Output is the build output.
	Output string
	// Runtime is the runtime closure of the output (and of the store paths
	// its attributes name).
	Runtime []string
	// Before are the store's entries before the build (StoreEntries).
	Before map[string]bool
	// Restored are the paths the restore installed: not the build's.
	Restored map[string]bool
}

// Push uploads to the writable cache every valid path this build made
// (build-time dependencies included, .drv files excluded) and the runtime
// closure, then the source pointer of digest to the output. Cache problems
// are warnings.
func (c Caches) Push(ctx context.Context, s Store, b Built, digest string, log io.Writer) error {
	if c.Write == nil {
		return nil
	}
	paths, err := made(s, b)
	if err != nil {
		return err
	}
	valid, err := s.Valid(paths)
	if err != nil {
		return err
	}
	var keep []string
	for _, p := range paths {
		if valid[p] {
			keep = append(keep, p)
		}
	}
	infos, err := s.Infos(keep)
	if err != nil {
		return err
	}
	pr, err := c.Write.PushWith(ctx, infos, s.Dir(), cache.PushOptions{AsLayer: runtimeLayers(c.AsLayer, b.Runtime)})
	if err != nil {
		fmt.Fprintf(log, "warning: pushing to %s: %v\n", c.Write, err)
		return nil
	}
	// pr.Warnings were already written to log by the cache (Options.Log).
	if len(pr.Failed) == 0 && digest != "" {
		if err := c.Write.WritePointer(ctx, digest, b.Output); err != nil {
			fmt.Fprintf(log, "warning: %v\n", err)
		}
	}
	return nil
}

// made is the runtime closure and what the build added to the store.
func made(s storedir.Store, b Built) ([]string, error) {
	paths := append([]string(nil), b.Runtime...)
	after, err := StoreEntries(s)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, p := range paths {
		seen[p] = true
	}
	for p := range after {
		name := filepath.Base(p)
		if b.Before[p] || b.Restored[p] || seen[p] || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".drv") || strings.HasSuffix(name, ".lock") {
			continue
		}
		paths = append(paths, p)
		seen[p] = true
	}
	return paths, nil
}

// runtimeLayers narrows asLayer to the runtime closure: only its paths
// become image layers; build-time paths stay NARs.
func runtimeLayers(asLayer func(string) (nar.Layer, bool), runtime []string) func(string) (nar.Layer, bool) {
	if asLayer == nil {
		return nil
	}
	in := make(map[string]bool, len(runtime))
	for _, p := range runtime {
		in[p] = true
	}
	return func(p string) (nar.Layer, bool) {
		if !in[p] {
			return nar.Layer{}, false
		}
		return asLayer(p)
	}
}
