package nixgen

import (
	"fmt"
	"github.com/nix-buildpack/nix-buildpack/internal/nixspec"
	"os"
	"path/filepath"
)

// ForApp reads the app's hop3.toml (toml, relative to dir) and generates
// its expression.
func ForApp(dir, toml string, o Options) (nixspec.Spec, string, error) {
	data, err := os.ReadFile(filepath.Join(dir, toml))
	if err != nil {
		return nixspec.Spec{}, "", fmt.Errorf("unable to read %s\n%w", toml, err)
	}
	s, err := nixspec.Parse(data, toml, nixspec.DefaultName)
	if err != nil {
		return s, "", err
	}
	text, err := Generate(s, o)
	return s, text, err
}
