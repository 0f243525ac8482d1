// Package closure asks Nix about store paths: the runtime closure of a build
// output, and the references of each path (for the pruning guard).
package closure

import (
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
)

// Runtime returns the runtime closure of the given outputs (nix-store -qR):
// every store path they need at run time, and nothing else.
func Runtime(nix nixinstall.Nix, outputs ...string) ([]string, error) {
	return nix.Store().Requisites(outputs...)
}

// Graph is what the Nix database says about a set of store paths.
type Graph struct {
	// Infos maps each path to its database record (NAR hash and size,
	// references, deriver).
	Infos map[string]narinfo.PathInfo
	// References maps each path to the paths it references (itself excluded).
	References map[string][]string
	// NarSizes maps each path to the size of its NAR serialisation.
	NarSizes map[string]int64
}

// ReadGraph reads the database records of the given store paths.
func ReadGraph(nix nixinstall.Nix, paths []string) (Graph, error) {
	infos, err := Infos(nix, paths)
	if err != nil {
		return Graph{}, err
	}
	g := Graph{Infos: map[string]narinfo.PathInfo{}, References: map[string][]string{}, NarSizes: map[string]int64{}}
	for _, info := range infos {
		g.Infos[info.StorePath] = info
		g.NarSizes[info.StorePath] = int64(info.NarSize)
		g.References[info.StorePath] = nil
		for _, r := range info.References {
			if r != info.StorePath {
				g.References[info.StorePath] = append(g.References[info.StorePath], r)
			}
		}
	}
	return g, nil
}

// Infos reads the database records of store paths in one
// `nix-store --dump-db` call.
func Infos(nix nixinstall.Nix, paths []string) ([]narinfo.PathInfo, error) {
	return nix.Store().Infos(paths)
}
