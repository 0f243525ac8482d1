// Package sbom describes a launch layer's runtime closure as a software bill
// of materials: one component per store path, named and versioned from the
// store path, with the store path and its NAR hash as properties. It writes
// the layer's SBOM files in CycloneDX JSON and Syft JSON, the formats the
// buildpack declares in buildpack.toml sbom-formats, so that
// `pack sbom download` shows the closure.
package sbom

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
)

// StorePath is one store path of a closure, as the Nix database knows it.
type StorePath struct {
	// StorePath is the full path, /nix/store/<hash>-<name>.
	StorePath string
	// NarHash is the hash of the path's NAR serialisation, as Nix prints it
	// (sha256:<nix base32>).
	NarHash string
	// NarSize is the size in bytes of that NAR serialisation.
	NarSize uint64
}

// Name is a store path's name split as Nix splits a derivation name.
type Name struct {
	// Hash is the store path's hash part.
	Hash string
	// Name is the package name (hello-web, busybox, nix).
	Name string
	// Version is what follows the name, possibly empty (2.8.0, 1.35.0-bin).
	Version string
}

// ParseName splits /nix/store/<hash>-<name>-<version> the way Nix's
// DrvName does (nix-env and builtins.parseDrvName): the version starts
// after the first dash that is followed by a character other than a letter.
func ParseName(storePath string) (Name, error) {
	base := path.Base(storePath)
	hash, rest, ok := strings.Cut(base, "-")
	if !ok || len(hash) != 32 || rest == "" {
		return Name{}, fmt.Errorf("%s is not a store path (/nix/store/<32-character hash>-<name>)", storePath)
	}
	n := Name{Hash: hash, Name: rest}
	for i := 0; i+1 < len(rest); i++ {
		if rest[i] == '-' && !isLetter(rest[i+1]) {
			n.Name, n.Version = rest[:i], rest[i+1:]
			break
		}
	}
	return n, nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// Files are the SBOM files Write makes for a layer, by media type.
func Files(layerPath string) map[string]string {
	return map[string]string{
		"application/vnd.cyclonedx+json": layerPath + ".sbom.cdx.json",
		"application/vnd.syft+json":      layerPath + ".sbom.syft.json",
	}
}

// Provenance is what the closure was built from, recorded in the
// documents' metadata (CycloneDX metadata properties, Syft's descriptor
// configuration).
type Provenance struct {
	// Nixpkgs is what <nixpkgs> or the flake's nixpkgs input was ("" when
	// the build did not use one, or was restored without evaluating).
	Nixpkgs string
	// NixpkgsRevision is its nixpkgs commit ("" when unknown).
	NixpkgsRevision string
}

// Write writes the SBOM of the launch layer at layerPath (the files
// <layerPath>.sbom.cdx.json and <layerPath>.sbom.syft.json, where the CNB
// lifecycle looks for a layer's SBOM), one component per store path, sorted
// by store path so that an unchanged closure gives identical files, and
// what it was built from.
func Write(layerPath string, paths []StorePath, prov Provenance) error {
	sorted := append([]StorePath(nil), paths...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].StorePath < sorted[j].StorePath })
	comps := make([]component, 0, len(sorted))
	for _, p := range sorted {
		n, err := ParseName(p.StorePath)
		if err != nil {
			return err
		}
		comps = append(comps, component{StorePath: p, Name: n})
	}
	files := Files(layerPath)
	for mediaType, doc := range map[string]any{
		"application/vnd.cyclonedx+json": cycloneDX(comps, prov),
		"application/vnd.syft+json":      syft(path.Base(layerPath), comps, prov),
	} {
		data, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			return fmt.Errorf("unable to encode the %s SBOM\n%w", mediaType, err)
		}
		if err := os.WriteFile(files[mediaType], append(data, '\n'), 0o644); err != nil {
			return fmt.Errorf("unable to write %s\n%w", files[mediaType], err)
		}
	}
	return nil
}

// component is a store path with its parsed name.
type component struct {
	StorePath
	Name
}

// purl is the package URL syft gives Nix store paths (the nix type is
// proposed, not yet accepted), with the output hash as a qualifier.
func (c component) purl() string {
	p := "pkg:nix/" + c.Name.Name
	if c.Version != "" {
		p += "@" + c.Version
	}
	return p + "?outputhash=" + c.Hash
}
