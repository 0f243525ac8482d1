package nixbuild

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/nix-buildpack/nix-buildpack/internal/config"
)

// FlakeNixpkgs is the flake's nixpkgs input as flake.lock pins it, for the
// SBOM: what it is (type and owner/repo, or URL) and its commit; both ""
// when the flake has no input named nixpkgs or no lock.
func FlakeNixpkgs(app config.App) (source, rev string) {
	data, err := os.ReadFile(filepath.Join(filepath.Dir(app.NixPath()), "flake.lock"))
	if err != nil {
		return "", ""
	}
	var lock struct {
		Root  string `json:"root"`
		Nodes map[string]struct {
			Inputs map[string]any `json:"inputs"`
			Locked struct {
				Type  string `json:"type"`
				Owner string `json:"owner"`
				Repo  string `json:"repo"`
				URL   string `json:"url"`
				Path  string `json:"path"`
				Rev   string `json:"rev"`
			} `json:"locked"`
		} `json:"nodes"`
	}
	if json.Unmarshal(data, &lock) != nil {
		return "", ""
	}
	name, ok := lock.Nodes[lock.Root].Inputs["nixpkgs"].(string)
	if !ok {
		return "", ""
	}
	l := lock.Nodes[name].Locked
	switch {
	case l.Owner != "":
		source = l.Type + ":" + l.Owner + "/" + l.Repo
	case l.URL != "":
		source = l.Type + "+" + l.URL
	case l.Path != "":
		source = l.Type + ":" + l.Path
	default:
		source = l.Type
	}
	return "flake input nixpkgs (" + source + ")", l.Rev
}
