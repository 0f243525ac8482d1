package nixspec_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/nixspec"
)

// TestParseErrors: what Hop3 refuses is refused, naming file, line and key.
func TestParseErrors(t *testing.T) {
	wrap := "[nix]\ntemplate = \"nixpkgs-wrapper\"\nnixpkgs-package = \"hello\"\nexec-target = \"hello\"\n"
	tests := []struct{ name, toml, err string }{
		{"no [nix]", "[metadata]\nid = \"x\"\n", "no [nix] template"},
		{"[nix] without template", "[nix]\nurl = \"x\"\n", "no [nix] template"},
		{"unknown template", "[nix]\ntemplate = \"rust-cargo\"\n", `hop3.toml:2: [nix] template "rust-cargo" is not one of Hop3's templates`},
		{"template not a string", "[nix]\ntemplate = 3\n", "hop3.toml:2: [nix] template must be a template name, got an integer"},
		{"unknown key", wrap + "exec-tagret = \"x\"\n", `hop3.toml:5: [nix] exec-tagret is not a key of the "nixpkgs-wrapper" template (Hop3 refuses it)`},
		{"key of another template", wrap + "binary-name = \"x\"\n", `hop3.toml:5: [nix] binary-name belongs to the prebuilt-binary template, not to "nixpkgs-wrapper"`},
		{"retired key", wrap + "pip-packages = [\"flask\"]\n", "hop3.toml:5: [nix] pip-packages is no longer supported by Hop3"},
		{"key in a sub-table", wrap + "[nix.env-export]\nA = \"1\"\n", "hop3.toml:5: [nix] env-export is not a key"},
		{"rev without sha256", wrap + "nixpkgs-rev = \"" + strings.Repeat("a", 40) + "\"\n", "hop3.toml:5: [nix] nixpkgs-rev and nixpkgs-sha256 must be set together"},
		{"placeholder rev", wrap + "nixpkgs-rev = \"REPLACE_ME\"\nnixpkgs-sha256 = \"x\"\n", "hop3.toml:5: [nix] nixpkgs-rev must be a 40-character git commit"},
		{"bad sha256", wrap + "nixpkgs-rev = \"" + strings.Repeat("a", 40) + "\"\nnixpkgs-sha256 = \"abc\"\n", "hop3.toml:6: [nix] nixpkgs-sha256 must be a Nix sha256"},
		{"wrong type", wrap + "exec-args = \"--port 80\"\n", "hop3.toml:5: [nix] exec-args must be a list of strings, got a string"},
		{"wrong type in a table", wrap + "[nix.env-exports]\nA = [1]\n", "hop3.toml:5: [nix.env-exports] A must be a string, got an array"},
		{"config file without path", wrap + "[[nix.config-files]]\nformat = \"raw\"\nraw-content = \"x\"\n", "hop3.toml:5: [[nix.config-files]] entry 1 has no path"},
		{"config file format", wrap + "[[nix.config-files]]\npath = \"a\"\nformat = \"yaml\"\n", `hop3.toml:7: [[nix.config-files]] a: format "yaml" is not supported`},
		{"unknown key of an entry", wrap + "[[nix.conditional-env]]\nname = \"A\"\nvalue = \"1\"\nif = \"B\"\n", "hop3.toml:8: [[nix.conditional-env]] if is not a key"},
		{"second entry", wrap + "[[nix.conditional-env]]\nname = \"A\"\nvalue = \"1\"\n[[nix.conditional-env]]\nname = \"B\"\n", "hop3.toml:8: [[nix.conditional-env]] entry 2 has no value"},
		{"bad id", "[metadata]\nid = \"my app\"\n" + wrap, `hop3.toml:2: [metadata] id "my app" cannot name the app's files`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := nixspec.Parse([]byte(tt.toml), "hop3.toml", nixspec.DefaultName)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error = %v; want it to contain %q", err, tt.err)
			}
			if strings.Contains(tt.err, "no [nix] template") && !errors.Is(err, nixspec.ErrNoTemplate) {
				t.Fatalf("error = %v; want ErrNoTemplate", err)
			}
		})
	}
}
