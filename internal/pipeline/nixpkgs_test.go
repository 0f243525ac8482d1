package pipeline

import (
	"os"
	"path/filepath"
	"testing"
)

// TestNamesNixpkgs: only an app whose .nix files name <nixpkgs> has its
// <nixpkgs> tarball unpacked ahead of Nix (else Nix would never fetch it).
func TestNamesNixpkgs(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  bool
	}{
		{"hop3.nix imports <nixpkgs>", map[string]string{"hop3.nix": "with import <nixpkgs> { }; hello"}, true},
		{"a nested .nix file", map[string]string{"hop3.nix": "import ./nix/app.nix", "nix/app.nix": "import <nixpkgs/lib>"}, true},
		{"no <nixpkgs>", map[string]string{"hop3.nix": "derivation { name = \"x\"; }"}, false},
		{"<nixpkgs> outside a .nix file", map[string]string{"hop3.nix": "{ }", "README": "<nixpkgs>"}, false},
		{"only under .git", map[string]string{"hop3.nix": "{ }", ".git/x.nix": "<nixpkgs>"}, false},
		{"only under node_modules", map[string]string{"hop3.nix": "{ }", "node_modules/p/x.nix": "<nixpkgs>"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range tc.files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := namesNixpkgs(dir); got != tc.want {
				t.Fatalf("namesNixpkgs = %v, want %v", got, tc.want)
			}
		})
	}
}
