package cache

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCacheInfoStoreDir reads and writes nix-cache-info as Nix does: Push
// to an empty cache writes "StoreDir: /nix/store", and a cache whose
// nix-cache-info names another store directory is refused by Query, Fetch
// (the path counts as missing) and Push (nothing is pushed).
func TestCacheInfoStoreDir(t *testing.T) {
	empty := t.TempDir()
	if _, err := openCache(t, "file://"+empty, Options{}).Push(ctx(t), nil, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	info, err := os.ReadFile(filepath.Join(empty, "nix-cache-info"))
	if err != nil || !strings.HasPrefix(string(info), "StoreDir: /nix/store\n") {
		t.Fatalf("nix-cache-info: %q, %v; want it to start with StoreDir: /nix/store", info, err)
	}

	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "nix-cache-info"), []byte("StoreDir: /gnu/store\nWantMassQuery: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const why = "its nix-cache-info says StoreDir /gnu/store, not /nix/store"
	const p = "/nix/store/7zh0zg1dv0zq3ixm8c4iy0cx4hpk46ap-big"
	c := openCache(t, "file://"+other, Options{})
	if _, err := c.Query(ctx(t), []string{p}); err == nil || !strings.Contains(err.Error(), why) {
		t.Errorf("Query: %v, want an error saying %q", err, why)
	}
	res, err := c.Fetch(ctx(t), []string{p}, noneValid(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Missing, []string{p}) || !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, why) }) {
		t.Errorf("Fetch: missing %q, warnings %q; want %s missing and a warning saying %q", res.Missing, res.Warnings, p, why)
	}
	pushed, err := c.Push(ctx(t), nil, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(pushed.Warnings, func(w string) bool { return strings.Contains(w, why) }) {
		t.Errorf("Push: warnings %q, want one saying %q", pushed.Warnings, why)
	}
}
