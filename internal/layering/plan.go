// Package layering splits a runtime closure into image layers, one store
// path per layer for the most shared and largest paths and the rest in one
// group, the popularity idea of nixpkgs' dockerTools.buildLayeredImage: a
// path that many others reference is likely shared by other apps too, so its
// own layer is stored once by a registry and reused across images.
package layering

import (
	"crypto/sha256"
	"encoding/hex"
	"path"
	"sort"
	"strings"
)

// Layer is one image layer's share of the closure.
type Layer struct {
	// Name is the layer's name: store-<hash> for one store path (the same
	// in every app), store-group-<digest> for a group (the digest of its
	// members' names).
	Name string
	// Paths are the store path base names the layer holds, sorted.
	Paths []string
}

// Plan splits paths (full store paths) into at most max layers. refs maps
// each path to the paths it references; sizes gives NAR sizes. The result
// depends only on its arguments: the same closure gives the same layers.
//
// The roots (paths no other path references: the app's own output, which
// changes with every change of the app) come first, so that a change of the
// app leaves the group alone; then the most referenced, then the largest.
func Plan(paths []string, refs map[string][]string, sizes map[string]int64, max int) []Layer {
	if max < 1 {
		max = 1
	}
	pop := popularity(paths, refs)
	ranked := append([]string(nil), paths...)
	sort.Slice(ranked, func(i, j int) bool {
		a, b := ranked[i], ranked[j]
		if (pop[a] == 0) != (pop[b] == 0) {
			return pop[a] == 0
		}
		if pop[a] != pop[b] {
			return pop[a] > pop[b]
		}
		if sizes[a] != sizes[b] {
			return sizes[a] > sizes[b]
		}
		return a < b
	})
	singles := len(ranked)
	if singles > max {
		singles = max - 1
	}
	var layers []Layer
	for _, p := range ranked[:singles] {
		name := path.Base(p)
		layers = append(layers, Layer{Name: StoreLayerName(name), Paths: []string{name}})
	}
	if rest := ranked[singles:]; len(rest) > 0 {
		names := make([]string, len(rest))
		for i, p := range rest {
			names[i] = path.Base(p)
		}
		sort.Strings(names)
		sum := sha256.Sum256([]byte(strings.Join(names, "\n")))
		layers = append(layers, Layer{Name: "store-group-" + hex.EncodeToString(sum[:16]), Paths: names})
	}
	return layers
}

// popularity counts, for each path, the other paths of the closure that
// reference it directly or through others.
func popularity(paths []string, refs map[string][]string) map[string]int {
	in := make(map[string]bool, len(paths))
	for _, p := range paths {
		in[p] = true
	}
	pop := make(map[string]int, len(paths))
	for _, p := range paths {
		seen := map[string]bool{p: true}
		stack := []string{p}
		for len(stack) > 0 {
			q := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, r := range refs[q] {
				if in[r] && !seen[r] {
					seen[r] = true
					pop[r]++
					stack = append(stack, r)
				}
			}
		}
	}
	return pop
}

// StoreLayerName is the name of the layer holding only the store path
// named name (its base name): store-<hash>, the same in every app.
func StoreLayerName(name string) string { return "store-" + hashPart(name) }

// hashPart is the 32-character hash that starts a store path's base name.
func hashPart(name string) string {
	if i := strings.IndexByte(name, '-'); i > 0 {
		return name[:i]
	}
	return name
}
