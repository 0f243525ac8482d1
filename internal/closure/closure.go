// Package closure asks Nix about store paths: the runtime closure of a build
// output, and the references of each path (for the pruning guard).
package closure

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
)

// Runtime returns the runtime closure of the given outputs (nix-store -qR):
// every store path they need at run time, and nothing else.
func Runtime(nix nixinstall.Nix, outputs ...string) ([]string, error) {
	out, err := query(nix, append([]string{"--query", "--requisites"}, outputs...)...)
	if err != nil {
		return nil, err
	}
	paths := nixinstall.ReadLines(out)
	sort.Strings(paths)
	return paths, nil
}

// References maps each given store path to the store paths it references
// (itself excluded), from the Nix database.
func References(nix nixinstall.Nix, paths []string) (map[string][]string, error) {
	g, err := ReadGraph(nix, paths)
	return g.References, err
}

// Graph is what the Nix database says about a set of store paths.
type Graph struct {
	// References maps each path to the paths it references (itself excluded).
	References map[string][]string
	// NarSizes maps each path to the size of its NAR serialisation.
	NarSizes map[string]int64
}

// ReadGraph reads the references and NAR sizes of the given store paths.
func ReadGraph(nix nixinstall.Nix, paths []string) (Graph, error) {
	// `nix-store --dump-db PATHS` prints, per path: path, hash, size,
	// deriver, count, then count references.
	out, err := query(nix, append([]string{"--dump-db"}, paths...)...)
	if err != nil {
		return Graph{}, err
	}
	g := Graph{References: map[string][]string{}, NarSizes: map[string]int64{}}
	lines := strings.Split(string(out), "\n")
	for i := 0; i+4 < len(lines); {
		path := lines[i]
		var n int
		if _, err := fmt.Sscanf(lines[i+4], "%d", &n); err != nil || i+5+n > len(lines) {
			return Graph{}, fmt.Errorf("unable to parse nix-store --dump-db output near line %d", i+1)
		}
		var size int64
		if _, err := fmt.Sscanf(lines[i+2], "%d", &size); err == nil {
			g.NarSizes[path] = size
		}
		for _, r := range lines[i+5 : i+5+n] {
			if r != path {
				g.References[path] = append(g.References[path], r)
			}
		}
		if _, ok := g.References[path]; !ok {
			g.References[path] = nil
		}
		i += 5 + n
	}
	return g, nil
}

func query(nix nixinstall.Nix, args ...string) ([]byte, error) {
	cmd := nix.Command("nix-store", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("nix-store %s failed\n%s%w", args[0], stderr.String(), err)
	}
	return out, nil
}
