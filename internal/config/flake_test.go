package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/config"
)

// TestFlakeAndBuildNixKeys covers flake.nix detection and the [build.nix]
// nixpkgs and attr keys.
func TestFlakeAndBuildNixKeys(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		want    config.App // Dir is filled in
		errWant string
	}{
		{name: "flake.nix alone", files: map[string]string{"flake.nix": "{}"},
			want: config.App{NixFile: "flake.nix", Flake: true, Source: "flake.nix"}},
		{name: "hop3.nix wins over flake.nix", files: map[string]string{"hop3.nix": "{}", "flake.nix": "{}"},
			want: config.App{NixFile: "hop3.nix", Source: "hop3.nix"}},
		{name: "flake.nix wins over default.nix", files: map[string]string{"default.nix": "{}", "flake.nix": "{}"},
			want: config.App{NixFile: "flake.nix", Flake: true, Source: "flake.nix"}},
		{name: "hop3.toml names another file", files: map[string]string{"flake.nix": "{}", "app.nix": "{}",
			"hop3.toml": "[build.nix]\nfile = \"app.nix\"\n"},
			want: config.App{NixFile: "app.nix", Source: "hop3.toml [build.nix] file"}},
		{name: "nix selected, flake.nix", files: map[string]string{"flake.nix": "{}", "hop3.toml": "[build]\nbuilder = \"nix\"\n"},
			want: config.App{NixFile: "flake.nix", Flake: true, Source: "hop3.toml [build] selects nix; using flake.nix"}},
		{name: "nixpkgs and attr", files: map[string]string{"flake.nix": "{}",
			"hop3.toml": "[metadata]\nid = \"x\"\n\n[build.nix]\nnixpkgs = \" channel:nixos-24.05 \"\nattr = \"packages.x86_64-linux.web\"\n"},
			want: config.App{NixFile: "flake.nix", Flake: true, Source: "flake.nix",
				Nixpkgs: "channel:nixos-24.05", NixpkgsKey: "hop3.toml:5 [build.nix] nixpkgs",
				Attr: "packages.x86_64-linux.web", AttrKey: "hop3.toml:6 [build.nix] attr"}},
		{name: "nixpkgs is an integer", files: map[string]string{"hop3.nix": "{}", "hop3.toml": "[build.nix]\nnixpkgs = 24\n"},
			errWant: "hop3.toml:2: [build.nix] nixpkgs must be a non-empty string, got integer"},
		{name: "attr is empty", files: map[string]string{"flake.nix": "{}", "hop3.toml": "[build.nix]\n\nattr = \"\"\n"},
			errWant: "hop3.toml:3: [build.nix] attr must be a non-empty string, got string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			app, err := config.Load(dir)
			if tt.errWant != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errWant) {
					t.Fatalf("Load() error = %v; want it to contain %q", err, tt.errWant)
				}
				return
			}
			tt.want.Dir = dir
			if err != nil || app != tt.want {
				t.Fatalf("Load() = %+v, %v\nwant %+v", app, err, tt.want)
			}
		})
	}
}
