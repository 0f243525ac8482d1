package sbom

import "strconv"

// The property names under which each component carries its Nix facts.
const (
	PropStorePath = "nix:store-path"
	PropNarHash   = "nix:nar-hash"
	PropNarSize   = "nix:nar-size"
)

// The property names under which the document's metadata records what
// the closure was built from.
const (
	PropNixpkgs         = "nixbp:nixpkgs"
	PropNixpkgsRevision = "nixbp:nixpkgs-revision"
)

// Tool names this buildpack in the documents' metadata.
const Tool = "nix-buildpack"

type cdxDocument struct {
	BOMFormat   string         `json:"bomFormat"`
	SpecVersion string         `json:"specVersion"`
	Version     int            `json:"version"`
	Metadata    cdxMetadata    `json:"metadata"`
	Components  []cdxComponent `json:"components"`
}

type cdxMetadata struct {
	Tools      []cdxTool     `json:"tools"`
	Properties []cdxProperty `json:"properties,omitempty"`
}

type cdxTool struct {
	Vendor string `json:"vendor"`
	Name   string `json:"name"`
}

type cdxComponent struct {
	Type       string        `json:"type"`
	BOMRef     string        `json:"bom-ref"`
	Name       string        `json:"name"`
	Version    string        `json:"version,omitempty"`
	PURL       string        `json:"purl"`
	Properties []cdxProperty `json:"properties"`
}

type cdxProperty struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// cycloneDX is the CycloneDX 1.4 document (no timestamp or serial number,
// so that the same closure gives the same bytes).
func cycloneDX(comps []component, prov Provenance) cdxDocument {
	doc := cdxDocument{BOMFormat: "CycloneDX", SpecVersion: "1.4", Version: 1,
		Metadata: cdxMetadata{Tools: []cdxTool{{Vendor: Tool, Name: Tool}}}, Components: []cdxComponent{}}
	if prov.Nixpkgs != "" {
		doc.Metadata.Properties = append(doc.Metadata.Properties, cdxProperty{Name: PropNixpkgs, Value: prov.Nixpkgs})
	}
	if prov.NixpkgsRevision != "" {
		doc.Metadata.Properties = append(doc.Metadata.Properties, cdxProperty{Name: PropNixpkgsRevision, Value: prov.NixpkgsRevision})
	}
	for _, c := range comps {
		doc.Components = append(doc.Components, cdxComponent{
			Type: "library", BOMRef: c.StorePath.StorePath, Name: c.Name.Name, Version: c.Version, PURL: c.purl(),
			Properties: []cdxProperty{
				{Name: PropStorePath, Value: c.StorePath.StorePath},
				{Name: PropNarHash, Value: c.NarHash},
				{Name: PropNarSize, Value: strconv.FormatUint(c.NarSize, 10)},
			},
		})
	}
	return doc
}

type syftDocument struct {
	Artifacts             []syftArtifact `json:"artifacts"`
	ArtifactRelationships []any          `json:"artifactRelationships"`
	Source                syftSource     `json:"source"`
	Distro                struct{}       `json:"distro"`
	Descriptor            syftDescriptor `json:"descriptor"`
	Schema                syftSchema     `json:"schema"`
}

type syftArtifact struct {
	ID           string         `json:"id"`
	Name         string         `json:"name"`
	Version      string         `json:"version"`
	Type         string         `json:"type"`
	FoundBy      string         `json:"foundBy"`
	Locations    []syftLocation `json:"locations"`
	Licenses     []any          `json:"licenses"`
	Language     string         `json:"language"`
	CPEs         []any          `json:"cpes"`
	PURL         string         `json:"purl"`
	MetadataType string         `json:"metadataType"`
	Metadata     syftNixEntry   `json:"metadata"`
}

type syftLocation struct {
	Path string `json:"path"`
}

// syftNixEntry is syft's nix-store-entry metadata plus the NAR facts.
type syftNixEntry struct {
	Path       string   `json:"path"`
	OutputHash string   `json:"outputHash"`
	Files      []string `json:"files"`
	NarHash    string   `json:"narHash"`
	NarSize    uint64   `json:"narSize"`
}

type syftSource struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

type syftDescriptor struct {
	Name          string       `json:"name"`
	Configuration *syftBuiltOf `json:"configuration,omitempty"`
}

// syftBuiltOf is what the closure was built from, in the descriptor's
// free-form configuration.
type syftBuiltOf struct {
	Nixpkgs         string `json:"nixpkgs,omitempty"`
	NixpkgsRevision string `json:"nixpkgsRevision,omitempty"`
}

type syftSchema struct {
	Version string `json:"version"`
	URL     string `json:"url"`
}

// syft is the Syft JSON document, in the shape syft's own nix cataloger
// gives store paths (type nix, metadataType nix-store-entry).
func syft(layer string, comps []component, prov Provenance) syftDocument {
	doc := syftDocument{Artifacts: []syftArtifact{}, ArtifactRelationships: []any{},
		Source:     syftSource{ID: layer, Name: layer, Type: "directory"},
		Descriptor: syftDescriptor{Name: Tool},
		Schema: syftSchema{Version: "16.0.43",
			URL: "https://raw.githubusercontent.com/anchore/syft/main/schema/json/schema-16.0.43.json"}}
	if prov != (Provenance{}) {
		doc.Descriptor.Configuration = &syftBuiltOf{Nixpkgs: prov.Nixpkgs, NixpkgsRevision: prov.NixpkgsRevision}
	}
	for _, c := range comps {
		doc.Artifacts = append(doc.Artifacts, syftArtifact{
			ID: c.Hash, Name: c.Name.Name, Version: c.Version, Type: "nix", FoundBy: Tool,
			Locations: []syftLocation{{Path: c.StorePath.StorePath}}, Licenses: []any{}, CPEs: []any{},
			PURL: c.purl(), MetadataType: "nix-store-entry",
			Metadata: syftNixEntry{Path: c.StorePath.StorePath, OutputHash: c.Hash, Files: []string{},
				NarHash: c.NarHash, NarSize: c.NarSize},
		})
	}
	return doc
}
