package closure

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
)

// StoreEntries lists the store's entries on disk (a snapshot taken before a
// build tells what the build added).
func StoreEntries(nix nixinstall.Nix) (map[string]bool, error) {
	entries, err := os.ReadDir(filepath.Join(nix.Dir, "store"))
	if err != nil {
		return nil, fmt.Errorf("unable to list the store\n%w", err)
	}
	set := make(map[string]bool, len(entries))
	for _, e := range entries {
		set["/nix/store/"+e.Name()] = true
	}
	return set, nil
}

// Push uploads to the writable cache every valid path this build made
// (build-time dependencies included, .drv files excluded) and the output's
// runtime closure (runtime, as Runtime gives it), then the source pointer.
// Cache problems are warnings.
func Push(ctx context.Context, nix nixinstall.Nix, output string, runtime []string, before map[string]bool, res *Restored, c Caches, log io.Writer) error {
	if c.Write == nil {
		return nil
	}
	paths := append([]string(nil), runtime...)
	after, err := StoreEntries(nix)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, p := range paths {
		seen[p] = true
	}
	for p := range after {
		name := filepath.Base(p)
		if before[p] || res.Installed[p] || seen[p] || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".drv") || strings.HasSuffix(name, ".lock") {
			continue
		}
		paths = append(paths, p)
		seen[p] = true
	}
	valid, err := nix.Store().Valid(paths)
	if err != nil {
		return err
	}
	var keep []string
	for _, p := range paths {
		if valid[p] {
			keep = append(keep, p)
		}
	}
	infos, err := Infos(nix, keep)
	if err != nil {
		return err
	}
	pr, err := c.Write.Push(ctx, infos, filepath.Join(nix.Dir, "store"))
	if err != nil {
		fmt.Fprintf(log, "warning: pushing to %s: %v\n", c.Write, err)
		return nil
	}
	// pr.Warnings were already written to log by the cache (Options.Log).
	if len(pr.Failed) == 0 && res.Digest != "" {
		if err := c.Write.WritePointer(ctx, res.Digest, output); err != nil {
			fmt.Fprintf(log, "warning: %v\n", err)
		}
	}
	return nil
}
