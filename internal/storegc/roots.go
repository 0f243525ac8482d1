package storegc

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Root names, in order of value: the last ones go first when the store is
// over its bound.
const (
	// RootNix keeps the Nix installation's store path (and its closure).
	RootNix = "nix"
	// RootOutput keeps the current build output's runtime closure.
	RootOutput = "output"
	// RootBuild keeps the current output's build-time closure: its .drv
	// and everything the build read, so a change to the app alone rebuilds
	// only the app.
	RootBuild = "build"
	// RootPrevious keeps the previous build's output (as Hop3 keeps
	// .nix-result-prev), for a rollback or an old process still running.
	RootPrevious = "previous"
	// RootAttrs are the store paths the expression's workers/env/path
	// attributes name (nixbuild.RootsDir): part of the runtime, never
	// dropped.
	RootAttrs = "attrs"
	// RootNixpkgs is the store path a <nixpkgs> tarball was unpacked into
	// (nixinstall.NixpkgsRootDir); dropped after the build inputs, since
	// every evaluation needs it.
	RootNixpkgs = "nixpkgs"
	// RootOther gathers every other root Nix finds (profiles, links made
	// by hand, running processes): counted, never dropped by us.
	RootOther = "other"
)

// droppable says whether fit may drop a root to meet the bound.
func droppable(name string) bool {
	return name == RootPrevious || name == RootBuild || name == RootNixpkgs
}

// roots are the buildpack's GC roots: direct roots (symlinks to store paths)
// in <nix dir>/var/nix/gcroots/nixbp, which Nix scans as
// /nix/var/nix/gcroots/nixbp. Their targets are /nix/store paths, as the
// build's /nix view shows them, so they stay right when a platform restores
// the cache at another directory. Direct roots can be renamed, unlike
// --indirect ones (Nix keeps gcroots/auto/<hash> pointing at the old name).
type roots struct{ dir string }

func rootsIn(nixDir string) roots {
	return roots{dir: filepath.Join(nixDir, "var", "nix", "gcroots", "nixbp")}
}

// link returns the store path a single-path root points to, or "".
func (r roots) link(name string) string {
	target, err := os.Readlink(filepath.Join(r.dir, name))
	if err != nil {
		return ""
	}
	return target
}

// setLink points a single-path root at target atomically (a new link
// renamed over the old one), or removes it when target is "".
func (r roots) setLink(name, target string) error {
	p := filepath.Join(r.dir, name)
	if target == "" {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("unable to remove the GC root %s\n%w", p, err)
		}
		return nil
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return fmt.Errorf("unable to create %s\n%w", r.dir, err)
	}
	tmp := filepath.Join(r.dir, "."+name+".new")
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("unable to write the GC root %s\n%w", tmp, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("unable to write the GC root %s\n%w", p, err)
	}
	return nil
}

// set returns the store paths a multi-path root (a directory of links)
// points to.
func (r roots) set(name string) []string {
	entries, err := os.ReadDir(filepath.Join(r.dir, name))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if target, err := os.Readlink(filepath.Join(r.dir, name, e.Name())); err == nil {
			out = append(out, target)
		}
	}
	return out
}

// setSet replaces a multi-path root with links to targets (none removes
// it). The new directory is complete before the old one goes, and a
// directory left half-written by a killed build is itself only a root, so
// at no moment is a path unrooted that should be kept.
func (r roots) setSet(name string, targets []string) error {
	p := filepath.Join(r.dir, name)
	tmp, old := filepath.Join(r.dir, "."+name+".new"), filepath.Join(r.dir, "."+name+".old")
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("unable to remove %s\n%w", tmp, err)
	}
	if len(targets) > 0 {
		if err := os.MkdirAll(tmp, 0o755); err != nil {
			return fmt.Errorf("unable to create %s\n%w", tmp, err)
		}
		for _, t := range targets {
			if err := os.Symlink(t, filepath.Join(tmp, filepath.Base(t))); err != nil {
				return fmt.Errorf("unable to write a GC root in %s\n%w", tmp, err)
			}
		}
	}
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("unable to remove %s\n%w", old, err)
	}
	if err := os.Rename(p, old); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("unable to replace the GC roots %s\n%w", p, err)
	}
	if len(targets) > 0 {
		if err := os.Rename(tmp, p); err != nil {
			return fmt.Errorf("unable to replace the GC roots %s\n%w", p, err)
		}
	}
	return os.RemoveAll(old)
}

// all returns the roots on disk in order of value.
func (r roots) all() []Root {
	var out []Root
	for _, name := range []string{RootNix, RootOutput, RootBuild, RootPrevious} {
		var paths []string
		if name == RootBuild {
			paths = r.set(name)
		} else if t := r.link(name); t != "" {
			paths = []string{t}
		}
		if len(paths) > 0 {
			out = append(out, Root{Name: name, Paths: paths})
		}
	}
	return out
}

// dropInvalid removes links whose store path is not valid (a store pruned
// by hand, a half-restored cache), so no root points nowhere.
func (r roots) dropInvalid(s Store) (dropped []string, err error) {
	for _, name := range []string{RootNix, RootOutput, RootPrevious} {
		if t := r.link(name); t != "" {
			if _, ok := s.Infos[t]; !ok {
				dropped = append(dropped, name+" -> "+t)
				if err := r.setLink(name, ""); err != nil {
					return dropped, err
				}
			}
		}
	}
	var keep []string
	paths := r.set(RootBuild)
	for _, t := range paths {
		if _, ok := s.Infos[t]; ok {
			keep = append(keep, t)
		} else {
			dropped = append(dropped, RootBuild+"/"+strings.TrimPrefix(t, "/nix/store/")+" -> "+t)
		}
	}
	if len(keep) != len(paths) {
		return dropped, r.setSet(RootBuild, keep)
	}
	return dropped, nil
}

// LastOutput is the output the last build left in the store of nixDir
// (its GC root), or "" when there is none.
func LastOutput(nixDir string) string { return rootsIn(nixDir).link(RootOutput) }
