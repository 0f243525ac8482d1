package sbom_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/sbom"
)

func TestParseName(t *testing.T) {
	const h = "10prjn41hpmi7pjjf0d94dg3gzbzk00n"
	tests := []struct {
		in   string
		want sbom.Name
		err  string
	}{
		{in: "/nix/store/" + h + "-nix-2.8.0", want: sbom.Name{Hash: h, Name: "nix", Version: "2.8.0"}},
		{in: "/nix/store/" + h + "-hello-web", want: sbom.Name{Hash: h, Name: "hello-web"}},
		{in: "/nix/store/" + h + "-glibc-2.34-210-bin", want: sbom.Name{Hash: h, Name: "glibc", Version: "2.34-210-bin"}},
		{in: "/nix/store/" + h + "-python3.11-requests-2.31.0", want: sbom.Name{Hash: h, Name: "python3.11-requests", Version: "2.31.0"}},
		{in: "/nix/store/" + h + "-bb", want: sbom.Name{Hash: h, Name: "bb"}},
		{in: "/nix/store/" + h + "-source-", want: sbom.Name{Hash: h, Name: "source-"}},
		{in: "/nix/store/" + h + "-openssl-3.0.13-dev", want: sbom.Name{Hash: h, Name: "openssl", Version: "3.0.13-dev"}},
		{in: "/nix/store/short-name-1.0", err: "is not a store path"},
		{in: "/nix/store/" + h, err: "is not a store path"},
		{in: "/nix/store/" + h + "-", err: "is not a store path"},
	}
	for _, tt := range tests {
		got, err := sbom.ParseName(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseName(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseName(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestWriteListsEveryStorePath(t *testing.T) {
	layer := filepath.Join(t.TempDir(), "closure")
	paths := []sbom.StorePath{
		{StorePath: "/nix/store/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-hello-web", NarHash: "sha256:1111111111111111111111111111111111111111111111111111", NarSize: 1},
		{StorePath: "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-busybox-1.35.0", NarHash: "sha256:2222222222222222222222222222222222222222222222222222", NarSize: 2},
	}
	if err := sbom.Write(layer, paths, sbom.Provenance{}); err != nil {
		t.Fatal(err)
	}

	var cdx struct {
		BOMFormat  string
		Components []struct {
			Name, Version, PURL string
			Properties          []struct{ Name, Value string }
		}
	}
	decode(t, layer+".sbom.cdx.json", &cdx)
	if cdx.BOMFormat != "CycloneDX" || len(cdx.Components) != 2 {
		t.Fatalf("CycloneDX document = %+v", cdx)
	}
	first := cdx.Components[0] // sorted by store path
	props := map[string]string{}
	for _, p := range first.Properties {
		props[p.Name] = p.Value
	}
	if first.Name != "busybox" || first.Version != "1.35.0" || first.PURL != "pkg:nix/busybox@1.35.0?outputhash=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" ||
		props[sbom.PropStorePath] != paths[1].StorePath || props[sbom.PropNarHash] != paths[1].NarHash || props[sbom.PropNarSize] != "2" {
		t.Errorf("first component = %+v", first)
	}
	if c := cdx.Components[1]; c.Name != "hello-web" || c.Version != "" {
		t.Errorf("second component = %+v", c)
	}

	var syft struct {
		Artifacts []struct {
			Name, Version, Type, MetadataType string
			Locations                         []struct{ Path string }
			Metadata                          struct{ NarHash string }
		}
		Schema struct{ Version string }
	}
	decode(t, layer+".sbom.syft.json", &syft)
	if len(syft.Artifacts) != 2 || syft.Schema.Version == "" {
		t.Fatalf("Syft document = %+v", syft)
	}
	if a := syft.Artifacts[1]; a.Name != "hello-web" || a.Type != "nix" || a.MetadataType != "nix-store-entry" ||
		len(a.Locations) != 1 || a.Locations[0].Path != paths[0].StorePath || a.Metadata.NarHash != paths[0].NarHash {
		t.Errorf("second artifact = %+v", a)
	}

	// The same closure gives the same bytes (no timestamps), so an
	// unchanged build does not change the image's SBOM layer.
	before, _ := os.ReadFile(layer + ".sbom.cdx.json")
	if err := sbom.Write(layer, []sbom.StorePath{paths[1], paths[0]}, sbom.Provenance{}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(layer + ".sbom.cdx.json")
	if string(before) != string(after) {
		t.Error("rewriting the same closure in another order changed the CycloneDX file")
	}
}

func TestWriteRejectsANonStorePath(t *testing.T) {
	err := sbom.Write(filepath.Join(t.TempDir(), "closure"), []sbom.StorePath{{StorePath: "/usr/bin"}}, sbom.Provenance{})
	if err == nil || !strings.Contains(err.Error(), "/usr/bin is not a store path") {
		t.Fatalf("error = %v", err)
	}
}

func decode(t *testing.T, file string, v any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}
