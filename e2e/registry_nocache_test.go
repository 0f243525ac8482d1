package e2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestRegistryWithoutBinaryCache is hello-web's cold build and one-line
// change with no BP_NIX_CACHE: the nix layer (Nix and the build's store)
// is then a cache layer, so the cache image receives it whole on every
// change and every fresh pod pulls it back. The figures are the README's
// reason to set BP_NIX_CACHE on kpack and Tekton.
func TestRegistryWithoutBinaryCache(t *testing.T) {
	r := startRegistryEnv(t)
	r.platformEnv = map[string]string{"BP_NIX_CACHE": ""}
	hello := filepath.Join(testenv.RepoRoot(), "fixtures", "apps", "hello-web")
	changed := openTempDir(t)
	if err := os.CopyFS(changed, os.DirFS(hello)); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(changed, "hop3.nix"))
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(src), "built by Nix", "built by Nix, once more", 1)
	if err := os.WriteFile(filepath.Join(changed, "hop3.nix"), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	a := r.build(t, "(a0) hello-web, cold, no BP_NIX_CACHE", "hello-web", hello)
	b := r.build(t, "(b0) hello-web, one-line change, no BP_NIX_CACHE", "hello-web", changed)
	r.serve(t, b, "Hello from hello-web, built by Nix, once more\n")
	nix := b.layerNamed("nix-buildpack/nix:nix")
	if nix == "" {
		t.Fatalf("(b0) has no nix cache layer in the cache image: %v", layerList(b))
	}
	if !strings.Contains(b.log, "Restoring data for \"nix-buildpack/nix:nix\" from cache") {
		t.Errorf("(b0) did not restore the nix layer from the cache image:\n%s", b.log)
	}
	t.Logf("without BP_NIX_CACHE:\n%s", table([]*step{a, b}))
}
