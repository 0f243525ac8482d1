package registry

import (
	"encoding/json"
	"fmt"
)

// lifecycle labels naming the layers of an app image and a cache image.
const (
	appMetadataLabel   = "io.buildpacks.lifecycle.metadata"
	cacheMetadataLabel = "io.buildpacks.lifecycle.cache.metadata"
)

// layersMetadata is the part of the lifecycle's labels that names layers
// by their diff IDs ("sha").
type layersMetadata struct {
	App        []struct{ SHA string } `json:"app"`
	Config     struct{ SHA string }   `json:"config"`
	Launcher   struct{ SHA string }   `json:"launcher"`
	Process    struct{ SHA string }   `json:"process-types"`
	SBOM       struct{ SHA string }   `json:"sbom"`
	Buildpacks []struct {
		Key    string `json:"key"`
		Layers map[string]struct {
			SHA  string         `json:"sha"`
			Data map[string]any `json:"data"`
		} `json:"layers"`
	} `json:"buildpacks"`
}

// Layer is one layer blob of an image as the lifecycle's label names it.
type Layer struct {
	// Name is "<buildpack>:<layer>" for a buildpack's layer, or "app",
	// "config", "launcher", "process-types", "sbom" (the lifecycle's layer of
	// the buildpacks' SBOM files); the run image's layers are "run".
	Name string
	// Metadata is a buildpack layer's TOML metadata, as exported.
	Metadata map[string]any
}

// Layers maps each layer blob of the image (compressed digest) to its name
// in the lifecycle's label (an app image's or a cache image's).
func (p *Pulled) Layers() (map[string]Layer, error) {
	label := p.Config.Config.Labels[appMetadataLabel]
	if label == "" {
		label = p.Config.Config.Labels[cacheMetadataLabel]
	}
	var md layersMetadata
	if label != "" {
		if err := json.Unmarshal([]byte(label), &md); err != nil {
			return nil, fmt.Errorf("unable to parse the lifecycle label\n%w", err)
		}
	}
	byDiffID := map[string]Layer{md.Config.SHA: {Name: "config"}, md.Launcher.SHA: {Name: "launcher"},
		md.Process.SHA: {Name: "process-types"}}
	if md.SBOM.SHA != "" {
		byDiffID[md.SBOM.SHA] = Layer{Name: "sbom"}
	}
	for _, a := range md.App {
		byDiffID[a.SHA] = Layer{Name: "app"}
	}
	for _, bp := range md.Buildpacks {
		for name, l := range bp.Layers {
			byDiffID[l.SHA] = Layer{Name: bp.Key + ":" + name, Metadata: l.Data}
		}
	}
	layers, err := p.Image.Layers()
	if err != nil {
		return nil, err
	}
	names := make(map[string]Layer, len(layers))
	for _, l := range layers {
		diffID, err := l.DiffID()
		if err != nil {
			return nil, err
		}
		digest, err := l.Digest()
		if err != nil {
			return nil, err
		}
		layer, ok := byDiffID[diffID.String()]
		if !ok {
			layer = Layer{Name: "run"}
		}
		names[digest.String()] = layer
	}
	return names, nil
}
