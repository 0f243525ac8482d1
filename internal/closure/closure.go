// Package closure asks Nix about store paths: the runtime closure of a build
// output, and the records (references, NAR hashes and sizes) of each path,
// for the pruning guard, the layers and the SBOM.
package closure

import (
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
)

// Store is what closure asks of a Nix store (nixstore.Store).
type Store interface {
	// Requisites is the closure of paths, sorted.
	Requisites(paths ...string) ([]string, error)
	// Infos are the database's records of paths.
	Infos(paths []string) ([]narinfo.PathInfo, error)
}

// Runtime returns the runtime closure of the given outputs (nix-store -qR):
// every store path they need at run time, and nothing else.
func Runtime(s Store, outputs ...string) ([]string, error) {
	return s.Requisites(outputs...)
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
func ReadGraph(s Store, paths []string) (Graph, error) {
	infos, err := s.Infos(paths)
	if err != nil {
		return Graph{}, err
	}
	return GraphOf(infos), nil
}

// GraphOf is the Graph of records, read from the Nix database or elsewhere
// (a restore's narinfos).
func GraphOf(infos []narinfo.PathInfo) Graph {
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
	return g
}
