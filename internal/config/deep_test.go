package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/config"
)

// TestDeepHop3TOML is issue 21, row 14: a hop3.toml of 3 million nested
// arrays (6 MB) overflowed the Go stack in detection (a crash, not an
// error), and a million took a gigabyte. Detection (Load) and the run
// settings (ReadRun) now refuse it, and one nested a hundred deep, with an
// error naming hop3.toml.
func TestDeepHop3TOML(t *testing.T) {
	for _, tc := range []struct {
		name, toml, err string
	}{
		{"3M nested arrays", "[build]\nbuilder = \"nix\"\nx = " + strings.Repeat("[", 3_000_000) + strings.Repeat("]", 3_000_000) + "\n",
			"hop3.toml: 6000029 bytes, over the 1048576 a hop3.toml may take"},
		{"100 nested arrays", "[build]\nbuilder = \"nix\"\nx = " + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "\n",
			"hop3.toml:3: arrays and inline tables nested more than 64 deep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "hop3.toml"), []byte(tc.toml), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "hop3.nix"), []byte("{}"), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := config.Load(dir); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Load = %v, want %q", err, tc.err)
			}
			if _, err := config.ReadRun(dir); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ReadRun = %v, want %q", err, tc.err)
			}
		})
	}
}
