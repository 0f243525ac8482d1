package storegc

import (
	"path/filepath"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
)

// Inspect splits the store's size between its roots: the buildpack's, in
// order of value, then any other root Nix finds (profiles, links made by
// hand, running processes), then the garbage a collection would free.
func Inspect(nix nixinstall.Nix) (Usage, error) {
	store, err := ReadStore(nix)
	if err != nil {
		return Usage{}, err
	}
	others, err := otherRoots(nix)
	if err != nil {
		return Usage{}, err
	}
	return store.Measure(append(rootsIn(nix.Dir).all(), others...)), nil
}

// RootRunning groups the paths running processes use.
const RootRunning = "(running processes)"

// otherRoots are the roots `nix-store --gc --print-roots` lists outside
// the buildpack's directory, one per link.
func otherRoots(nix nixinstall.Nix) ([]Root, error) {
	lines, err := nix.Store().Roots()
	if err != nil {
		return nil, err
	}
	ours := "/nix/var/nix/gcroots/" + filepath.Base(rootsIn(nix.Dir).dir) + "/"
	var roots []Root
	running := Root{Name: RootRunning}
	for _, line := range lines {
		link, target, ok := strings.Cut(line, " -> ")
		switch {
		case !ok || strings.HasPrefix(link, ours):
		case strings.HasPrefix(link, "/proc/") || strings.HasPrefix(link, "{"):
			// Runtime roots: paths open in running processes (Nix's own
			// included), listed as /proc/<pid>/... or {censored}.
			running.Paths = append(running.Paths, target)
		default:
			roots = append(roots, Root{Name: link, Paths: []string{target}})
		}
	}
	return append(roots, running), nil
}
