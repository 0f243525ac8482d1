package nixgen_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/nixgen"
	"github.com/nix-buildpack/nix-buildpack/internal/nixspec"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestCatalog generates the expression of each of Hop3's catalog apps in
// fixtures/hop3-catalog (copied from abilian/hop3 apps/real-apps-nix-gen)
// and has Nix's parser accept it; those Hop3's current generator refuses
// are refused too, naming the key and line.
func TestCatalog(t *testing.T) {
	nixInstantiate := testenv.Require(t, "nix-instantiate")
	refused := map[string]string{
		// nixpkgs-package belongs to nixpkgs-wrapper, and pip-packages is retired:
		// the stored recipe predates Hop3's per-template key tables.
		"directus": "hop3.toml:27: [nix] nixpkgs-package belongs to the nixpkgs-wrapper template, not to \"node-pnpm-install\"",
	}
	dirs, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "fixtures", "hop3-catalog", "*", "hop3.toml"))
	if err != nil || len(dirs) < 12 {
		t.Fatalf("catalog fixtures: %v (%d found)", err, len(dirs))
	}
	templates := map[string]bool{}
	for _, file := range dirs {
		app := filepath.Base(filepath.Dir(file))
		t.Run(app, func(t *testing.T) {
			_, text, err := nixgen.ForApp(filepath.Dir(file), "hop3.toml", nixgen.Options{})
			if want, ok := refused[app]; ok {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("ForApp() error = %v; want it to contain %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("ForApp() error = %v", err)
			}
			s, _ := nixspec.Parse(mustRead(t, file), "hop3.toml", nixspec.DefaultName)
			templates[s.Template] = true
			for _, o := range []nixgen.Options{{}, {ImportNixpkgs: true}} {
				if o.ImportNixpkgs {
					_, text, _ = nixgen.ForApp(filepath.Dir(file), "hop3.toml", o)
				}
				p := filepath.Join(t.TempDir(), "hop3.nix")
				if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
				if out, err := exec.Command(nixInstantiate, "--parse", p).CombinedOutput(); err != nil {
					t.Fatalf("nix-instantiate --parse rejects the expression of %s: %v\n%s\n%s", app, err, out, text)
				}
			}
		})
	}
	t.Logf("templates covered: %d", len(templates))
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
