package storegc_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/nixbuild"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/storegc"
)

// bigPath adds a store path of size bytes of incompressible data and roots
// it with a link named name in the gcroots directory dir (relative to the
// Nix directory), as nixinstall.KeepNixpkgs and nixbuild's attributes do.
func bigPath(t *testing.T, nix nixinstall.Nix, app, dir, name string, size int) string {
	t.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7919 + i/251)
	}
	file := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := nix.Command("nix-store", "--add", file).Output()
	if err != nil {
		t.Fatalf("nix-store --add: %v", err)
	}
	p := strings.TrimSpace(string(out))
	if err := os.MkdirAll(filepath.Join(nix.Dir, dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(p, filepath.Join(nix.Dir, dir, name)); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEveryRootCounts is issue 21, row 13: the <nixpkgs> tarball's root
// (nixbp-nixpkgs) and the attributes' roots (nixbp-attrs) count toward
// BP_NIX_CACHE_MAX_SIZE: nixpkgs is dropped after the previous output and
// the build inputs, the attributes' paths are kept, and when what is never
// dropped alone exceeds the bound, the report says so and names it.
func TestEveryRootCounts(t *testing.T) {
	nix, app := newStore(t)
	out1, _ := build(t, nix, app, "1")
	collect(t, nix, out1, storegc.Options{})
	out2, _ := build(t, nix, app, "2")
	nixpkgs := bigPath(t, nix, app, nixinstall.NixpkgsRootDir, "nixpkgs", 3<<20)
	attr := bigPath(t, nix, app, nixbuild.RootsDir, "busybox", 2<<20)
	full := collect(t, nix, out2, storegc.Options{})
	size := map[string]int64{}
	for _, r := range full.Kept.Roots {
		size[r.Name] = r.Bytes
	}
	if size["nixpkgs"] < 3<<20 || size["attrs"] < 2<<20 || full.After != full.Kept.Live {
		t.Fatalf("roots kept %+v, store %d: want nixpkgs and attrs counted, every byte kept by a root", full.Kept.Roots, full.After)
	}

	// Room for all but nixpkgs: previous and build go first, then nixpkgs.
	out3, _ := build(t, nix, app, "3")
	never := size["nix"] + size["output"] + size["attrs"]
	rep := collect(t, nix, out3, storegc.Options{MaxSize: never + 1<<20})
	if got := rootNames(storegc.Usage{Roots: rep.Dropped}); strings.Join(got, " ") != "previous build nixpkgs" || rep.OverBound {
		t.Errorf("bound below nixpkgs: dropped %v, over %v; want previous, build, nixpkgs", got, rep.OverBound)
	}
	if rep.After > rep.MaxSize || valid(t, nix, nixpkgs) || !valid(t, nix, attr) {
		t.Errorf("bound below nixpkgs: store %d > max %d, nixpkgs kept %v, attribute path kept %v",
			rep.After, rep.MaxSize, valid(t, nix, nixpkgs), valid(t, nix, attr))
	}
	if _, err := os.Lstat(filepath.Join(nix.Dir, nixinstall.NixpkgsRootDir)); err == nil {
		t.Errorf("the dropped nixpkgs root is still on disk")
	}

	// Below what is never dropped: kept, and the report says what.
	out4, _ := build(t, nix, app, "4")
	rep = collect(t, nix, out4, storegc.Options{MaxSize: never - 1<<20})
	last := rep.Lines()[len(rep.Lines())-1]
	if !rep.OverBound || !valid(t, nix, attr) ||
		!strings.Contains(last, "what is never dropped (Nix, output, workers/env/path paths) alone takes") ||
		!strings.Contains(last, "raise BP_NIX_CACHE_MAX_SIZE") {
		t.Errorf("bound below the attributes' paths: over %v, attribute path kept %v, last line %q", rep.OverBound, valid(t, nix, attr), last)
	}

	// A root that is not the buildpack's (a profile, a link made by hand)
	// counts too, and the warning says to remove it.
	other := bigPath(t, nix, app, "var/nix/gcroots/by-hand", "tool", 2<<20)
	out5, _ := build(t, nix, app, "5")
	rep = collect(t, nix, out5, storegc.Options{MaxSize: never + 1<<20})
	last = rep.Lines()[len(rep.Lines())-1]
	if !rep.OverBound || !valid(t, nix, other) || !strings.Contains(last, "other roots") || !strings.Contains(last, "remove the other roots") {
		t.Errorf("with another root: over %v, kept %v, last line %q", rep.OverBound, valid(t, nix, other), last)
	}
}
