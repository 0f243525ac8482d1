// Package storegc keeps the Nix store that the buildpack carries between
// builds (the CNB cache layer, Heroku's CACHE_DIR) bounded: after a build it
// roots what the next build is likely to need (Nix itself, the output's
// runtime closure, its build-time closure, the previous output) and lets
// `nix-store --gc` delete the rest, dropping the least valuable roots first
// when the store is over its size bound.
package storegc

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/nixbuild"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
)

// DefaultMaxSize is the default bound on the store's size: 2 GiB of NAR,
// about 1 GiB once compressed in a cache layer or CACHE_DIR tarball (zstd
// gave 247 MB for 459 MiB of NAR here): room for Nix and a nixpkgs app's
// build inputs, small enough to restore in seconds on every build.
const DefaultMaxSize int64 = 2 << 30

// Options say whether and how the store is collected.
type Options struct {
	// Enabled runs the collection; off keeps every path (a shared,
	// hand-managed store).
	Enabled bool
	// MaxSize bounds the store's size in bytes (NAR sizes); 0 is no bound.
	MaxSize int64
}

// Build is what the build that just finished made.
type Build struct {
	// Output is the build output (its runtime closure is always kept).
	Output string
	// Derivation is the output's .drv; empty looks up the output's deriver
	// in the database. When neither is in the store (an output restored
	// from a cache without evaluating), the previous build-time roots stay.
	Derivation string
}

// Report says what a collection kept and freed.
type Report struct {
	// Kept splits the store's size after collection between the roots.
	Kept Usage
	// Before and After are the store's size (NAR bytes) and path count.
	Before, After           int64
	PathsBefore, PathsAfter int
	// Dropped names the roots dropped to stay under MaxSize, with their sizes.
	Dropped []RootSize
	// OverBound says that the roots never dropped (Nix, the output, the
	// attributes' paths, other roots) alone exceed MaxSize.
	OverBound bool
	// MaxSize is the bound that applied.
	MaxSize int64
}

// Collect roots what the next build needs, drops roots to fit MaxSize, and
// runs `nix-store --gc` through the build's /nix view. A build killed
// meanwhile leaves a usable store: the roots are replaced atomically and
// Nix's collector invalidates each path before deleting it.
func Collect(nix nixinstall.Nix, b Build, o Options) (Report, error) {
	r := rootsIn(nix.Dir)
	store, err := ReadStore(nix)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Before: store.Size(), PathsBefore: len(store.Infos), MaxSize: o.MaxSize}
	if _, err := r.dropInvalid(store); err != nil {
		return rep, err
	}
	if _, ok := store.Infos[b.Output]; !ok {
		return rep, fmt.Errorf("the build output %s is not a valid store path", b.Output)
	}
	plan, err := r.wanted(nix, store, b)
	if err != nil {
		return rep, err
	}
	hadNixpkgs := rootPaths(plan, RootNixpkgs) != nil
	plan, rep.Dropped, rep.OverBound = fit(store, plan, o.MaxSize)
	if hadNixpkgs && rootPaths(plan, RootNixpkgs) == nil {
		if err := os.RemoveAll(filepath.Join(nix.Dir, nixinstall.NixpkgsRootDir)); err != nil {
			return rep, fmt.Errorf("unable to drop the GC root of <nixpkgs>\n%w", err)
		}
	}
	if err := r.write(plan, nix, b); err != nil {
		return rep, err
	}
	if err := nix.Store().CollectGarbage(); err != nil {
		return rep, err
	}
	after, err := ReadStore(nix)
	if err != nil {
		return rep, err
	}
	rep.After, rep.PathsAfter = after.Size(), len(after.Infos)
	dropBuildLogs(nix.Dir, after)
	rep.Kept = after.Measure(plan)
	// Running processes (Nix's own) usually hold only what Nix's root
	// does: say nothing of roots that add nothing.
	rep.Kept.Roots = slices.DeleteFunc(rep.Kept.Roots, func(k RootSize) bool { return k.Name == RootOther && k.Paths == 0 })
	return rep, nil
}

// wanted is every root the next build may use, in the order fit keeps
// them: Nix, the output, the attributes' paths, other roots, <nixpkgs>,
// the build-time closure (b's, or the one rooted before), the previous
// output.
func (r roots) wanted(nix nixinstall.Nix, store Store, b Build) ([]Root, error) {
	build, err := buildClosure(nix, store, b)
	if err != nil {
		return nil, err
	}
	if build == nil {
		build = r.set(RootBuild)
	}
	previous := r.link(RootOutput)
	if previous == b.Output || previous == "" {
		previous = r.link(RootPrevious)
	}
	if previous == b.Output {
		previous = ""
	}
	found, err := otherRoots(nix)
	if err != nil {
		return nil, err
	}
	attrs, nixpkgs, other := classify(found)
	var plan []Root
	for _, root := range []Root{{RootNix, []string{nix.StorePath}}, {RootOutput, []string{b.Output}},
		{RootAttrs, attrs}, {RootOther, other}, {RootNixpkgs, nixpkgs},
		{RootBuild, build}, {RootPrevious, nonEmpty(previous)}} {
		if len(root.Paths) > 0 {
			plan = append(plan, root)
		}
	}
	return plan, nil
}

// write replaces the buildpack's roots by those of plan; the previous
// output first, so the old output stays rooted while output moves on.
func (r roots) write(plan []Root, nix nixinstall.Nix, b Build) error {
	if err := r.setLink(RootPrevious, pathsOf(plan, RootPrevious)); err != nil {
		return err
	}
	if err := r.setLink(RootOutput, b.Output); err != nil {
		return err
	}
	if err := r.setLink(RootNix, nix.StorePath); err != nil {
		return err
	}
	return r.setSet(RootBuild, rootPaths(plan, RootBuild))
}

// classify splits the roots Nix finds besides the buildpack's own
// (gcroots/nixbp) into the attributes' paths, the <nixpkgs> tarball's
// path and all the others.
func classify(roots []Root) (attrs, nixpkgs, other []string) {
	attrsDir := "/nix/" + nixbuild.RootsDir + "/"
	nixpkgsDir := "/nix/" + nixinstall.NixpkgsRootDir + "/"
	for _, r := range roots {
		switch {
		case strings.HasPrefix(r.Name, attrsDir):
			attrs = append(attrs, r.Paths...)
		case strings.HasPrefix(r.Name, nixpkgsDir):
			nixpkgs = append(nixpkgs, r.Paths...)
		default:
			other = append(other, r.Paths...)
		}
	}
	return attrs, nixpkgs, other
}

// buildClosure is the derivation's closure with the outputs of every
// derivation in it (`nix-store -qR --include-outputs`), or nil when the
// output's derivation is not in the store.
func buildClosure(nix nixinstall.Nix, store Store, b Build) ([]string, error) {
	drv := b.Derivation
	if drv == "" {
		drv = store.Infos[b.Output].Deriver
	}
	if _, ok := store.Infos[drv]; !ok || drv == "" {
		return nil, nil
	}
	paths, err := nix.Store().RequisitesWithOutputs(drv)
	if err != nil {
		return nil, fmt.Errorf("unable to query the build-time closure of %s\n%w", drv, err)
	}
	return paths, nil
}

// fit drops the least valuable droppable roots (previous, then build,
// then nixpkgs) until what the plan keeps is at most max. The others
// (Nix, the output, the attributes' paths, roots that are not ours) are
// never dropped; over says they alone exceed max.
func fit(store Store, plan []Root, max int64) (kept []Root, dropped []RootSize, over bool) {
	kept = plan
	for max > 0 {
		u := store.Measure(kept)
		if u.Live <= max {
			return kept, dropped, false
		}
		last := len(kept) - 1
		if !droppable(kept[last].Name) {
			return kept, dropped, true
		}
		dropped = append(dropped, u.Roots[last])
		kept = kept[:last]
	}
	return kept, dropped, false
}

func nonEmpty(p string) []string {
	if p == "" {
		return nil
	}
	return []string{p}
}

func rootPaths(plan []Root, name string) []string {
	for _, r := range plan {
		if r.Name == name {
			return r.Paths
		}
	}
	return nil
}

func pathsOf(plan []Root, name string) string {
	if p := rootPaths(plan, name); len(p) == 1 {
		return p[0]
	}
	return ""
}
