package nixbuild

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/config"
)

func TestFlakeNixpkgs(t *testing.T) {
	for _, tc := range []struct {
		name, lock, source, rev string
	}{
		{name: "github", lock: `{"nodes":{"nixpkgs":{"locked":{"type":"github","owner":"NixOS","repo":"nixpkgs","rev":"50ab793786d9de88ee30ec4e4c24fb4236fc2674"}},
		  "root":{"inputs":{"nixpkgs":"nixpkgs"}}},"root":"root","version":7}`,
			source: "flake input nixpkgs (github:NixOS/nixpkgs)", rev: "50ab793786d9de88ee30ec4e4c24fb4236fc2674"},
		{name: "renamed node, path", lock: `{"nodes":{"nixpkgs_2":{"locked":{"type":"path","path":"/srv/nixpkgs","narHash":"sha256-x"}},
		  "root":{"inputs":{"nixpkgs":"nixpkgs_2"}}},"root":"root","version":7}`,
			source: "flake input nixpkgs (path:/srv/nixpkgs)"},
		{name: "no nixpkgs input", lock: `{"nodes":{"root":{"inputs":{}}},"root":"root","version":7}`},
		{name: "not JSON", lock: `{`},
		{name: "no lock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.lock != "" {
				if err := os.WriteFile(filepath.Join(dir, "flake.lock"), []byte(tc.lock), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			src, rev := FlakeNixpkgs(config.App{Dir: dir, NixFile: "flake.nix", Flake: true})
			if src != tc.source || rev != tc.rev {
				t.Errorf("FlakeNixpkgs = %q, %q; want %q, %q", src, rev, tc.source, tc.rev)
			}
		})
	}
}
