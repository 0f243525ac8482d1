package sbom_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/sbom"
)

// TestProvenanceInBothFormats: the nixpkgs a closure was built from and
// its revision are in the CycloneDX metadata properties and the Syft
// descriptor's configuration; without them neither appears.
func TestProvenanceInBothFormats(t *testing.T) {
	paths := []sbom.StorePath{{StorePath: "/nix/store/10prjn41hpmi7pjjf0d94dg3gzbzk00n-hello-web", NarHash: "sha256:x", NarSize: 1}}
	prov := sbom.Provenance{Nixpkgs: "channel:nixos-24.11 (https://nixos.org/channels/nixos-24.11/nixexprs.tar.xz)",
		NixpkgsRevision: "50ab793786d9de88ee30ec4e4c24fb4236fc2674"}
	for _, tc := range []struct {
		name string
		prov sbom.Provenance
	}{{"with", prov}, {"without", sbom.Provenance{}}} {
		t.Run(tc.name, func(t *testing.T) {
			layer := filepath.Join(t.TempDir(), "view")
			if err := sbom.Write(layer, paths, tc.prov); err != nil {
				t.Fatal(err)
			}
			var cdx struct {
				Metadata struct {
					Properties []struct{ Name, Value string } `json:"properties"`
				} `json:"metadata"`
			}
			var syft struct {
				Descriptor struct {
					Configuration *struct {
						Nixpkgs, NixpkgsRevision string
					} `json:"configuration"`
				} `json:"descriptor"`
			}
			read(t, sbom.Files(layer)["application/vnd.cyclonedx+json"], &cdx)
			read(t, sbom.Files(layer)["application/vnd.syft+json"], &syft)
			got := map[string]string{}
			for _, p := range cdx.Metadata.Properties {
				got[p.Name] = p.Value
			}
			if got[sbom.PropNixpkgs] != tc.prov.Nixpkgs || got[sbom.PropNixpkgsRevision] != tc.prov.NixpkgsRevision {
				t.Errorf("CycloneDX metadata properties = %v, want %+v", got, tc.prov)
			}
			c := syft.Descriptor.Configuration
			switch {
			case tc.prov == (sbom.Provenance{}) && c != nil:
				t.Errorf("Syft configuration = %+v, want none", c)
			case tc.prov != (sbom.Provenance{}) && (c == nil || c.Nixpkgs != tc.prov.Nixpkgs || c.NixpkgsRevision != tc.prov.NixpkgsRevision):
				t.Errorf("Syft configuration = %+v, want %+v", c, tc.prov)
			}
		})
	}
}

func read(t *testing.T, file string, v any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}
