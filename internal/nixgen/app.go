package nixgen

import (
	"fmt"
	"os"
	"path/filepath"
)

// DefaultName is the app's name when [metadata] has no id (Hop3 uses the
// name the app is deployed as, which a buildpack does not know).
const DefaultName = "app"

// ForApp reads the app's hop3.toml (toml, relative to dir) and generates
// its expression.
func ForApp(dir, toml string, o Options) (Spec, string, error) {
	data, err := os.ReadFile(filepath.Join(dir, toml))
	if err != nil {
		return Spec{}, "", fmt.Errorf("unable to read %s\n%w", toml, err)
	}
	s, err := Parse(data, toml, DefaultName)
	if err != nil {
		return s, "", err
	}
	text, err := Generate(s, o)
	return s, text, err
}
