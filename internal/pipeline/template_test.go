package pipeline

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paketo-buildpacks/libpak/v2/log"
)

// TestLoadAppTemplate: the config step writes a [nix] template's expression
// to .hop3-template.nix and says in the log which nixpkgs it uses: the
// template's pin unless BP_NIX_NIXPKGS was set or hop3.toml's [build.nix]
// nixpkgs names one (the default channel does not replace the pin), and
// Hop3's reproducibility tier.
func TestLoadAppTemplate(t *testing.T) {
	const nix = "[nix]\ntemplate = \"nixpkgs-wrapper\"\nnixpkgs-package = \"hello\"\nexec-target = \"hello\"\n"
	tests := []struct {
		name, toml string
		in         Input
		expr, logs []string
	}{
		{name: "default channel keeps the pin", toml: nix, in: Input{Nixpkgs: "channel:nixos-24.11"},
			expr: []string{"fetchTarball", "50ab793786d9de88ee30ec4e4c24fb4236fc2674.tar.gz"},
			logs: []string{"nixpkgs: pinned by the template", "Reproducibility: Hop3's tier 1 of 3"}},
		{name: "BP_NIX_NIXPKGS replaces it", toml: nix, in: Input{Nixpkgs: "/srv/nixpkgs", NixpkgsSet: true},
			expr: []string{"{ pkgs ? import <nixpkgs> { } }:"},
			logs: []string{"nixpkgs: <nixpkgs> from BP_NIX_NIXPKGS=/srv/nixpkgs, in place of the template's pin 50ab7937"}},
		{name: "[build.nix] nixpkgs replaces it", toml: "[build.nix]\nnixpkgs = \"channel:nixos-24.05\"\n\n" + nix, in: Input{Nixpkgs: "channel:nixos-24.11"},
			expr: []string{"{ pkgs ? import <nixpkgs> { } }:"},
			logs: []string{"nixpkgs: <nixpkgs> from hop3.toml:", "in place of the template's pin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "hop3.toml"), []byte(tt.toml), 0o644); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			tt.in.AppDir, tt.in.Log = dir, log.NewPaketoLogger(&buf)
			app, err := loadApp(tt.in)
			if err != nil {
				t.Fatalf("loadApp() error = %v", err)
			}
			data, err := os.ReadFile(app.NixPath())
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.expr {
				if !strings.Contains(string(data), want) {
					t.Errorf("%s lacks %q:\n%s", app.NixFile, want, data)
				}
			}
			for _, want := range append(tt.logs, `Generated .hop3-template.nix from hop3.toml [nix] template = "nixpkgs-wrapper"`, "nixbp nix eject") {
				if !strings.Contains(buf.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, buf.String())
				}
			}
		})
	}
}
