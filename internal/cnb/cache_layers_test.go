package cnb

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/cache"
)

// TestCacheLayers: only an oci:// cache with the closure as built stores
// runtime paths as their store layers, each at its store-<hash> layer of
// this build's layers directory, owned by the build user.
func TestCacheLayers(t *testing.T) {
	layers := filepath.Join(t.TempDir(), "layers", "nix-buildpack_nix")
	if err := os.MkdirAll(layers, 0o755); err != nil {
		t.Fatal(err)
	}
	open := func(url string) *cache.Cache {
		c, err := cache.Open(t.Context(), url, cache.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	logger := log.NewDiscardLogger()
	if cacheLayers(nil, layers, false, logger) != nil || cacheLayers(open("file:///tmp/x"), layers, false, logger) != nil {
		t.Error("a file:// cache (or none) is given layers")
	}
	oci := open("oci://127.0.0.1:5000/app")
	if cacheLayers(oci, layers, true, logger) != nil {
		t.Error("a relocated closure is stored as layers")
	}
	as := cacheLayers(oci, layers, false, logger)
	if as == nil {
		t.Fatal("an oci:// cache is not given layers")
	}
	l, ok := as("/nix/store/jnf818k0c2svgamvllpk8n35zq3rbn8g-shared-runtime")
	if !ok || l.Dir != filepath.Join(layers, "store-jnf818k0c2svgamvllpk8n35zq3rbn8g") || l.UID != os.Getuid() || l.GID != os.Getgid() {
		t.Fatalf("layer %+v, %v", l, ok)
	}
	if n := len(l.Parents); n == 0 || l.Parents[n-1].Name != layers {
		t.Fatalf("parents %+v: want the layers directory last", l.Parents)
	}
}
