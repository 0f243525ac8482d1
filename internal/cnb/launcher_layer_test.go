package cnb

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/buildpacks/libcnb/v2"
	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestLauncherLayerCarriesTheBundledPRoot: the launcher layer holds the
// buildpack's static proot beside nixbp-launch, where the launcher looks
// for it when the run image has none, and the layer's key covers it.
func TestLauncherLayerCarriesTheBundledPRoot(t *testing.T) {
	bp := t.TempDir()
	launcher := []byte("launcher")
	if err := os.MkdirAll(filepath.Join(bp, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bp, "bin", "nixbp-launch"), launcher, 0o755); err != nil {
		t.Fatal(err)
	}
	alone, err := launcherDigest(bp)
	if err != nil {
		t.Fatal(err)
	}
	proot, err := os.ReadFile(testenv.BundledPRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bp, "bin", "proot"), proot, 0o755); err != nil {
		t.Fatal(err)
	}
	both, err := launcherDigest(bp)
	if err != nil || both == alone {
		t.Fatalf("key with proot = %q, %v; want another key than without (%s)", both, err, alone)
	}

	l, err := newLauncherLayer(bp, log.NewPaketoLogger(&bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	layers := libcnb.Layers{Path: t.TempDir()}
	layer, err := layers.Layer(l.Name())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Contribute(&layer); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{"nixbp-launch": launcher, "proot": proot} {
		p := filepath.Join(layer.Path, "bin", name)
		got, err := os.ReadFile(p)
		fi, serr := os.Stat(p)
		if err != nil || serr != nil || !bytes.Equal(got, want) || fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: %d bytes, %v, %v; want the buildpack's (%d bytes, 0755)", p, len(got), err, serr, len(want))
		}
	}
	if layer.Metadata["sha256"] != both || !layer.LayerTypes.Launch {
		t.Errorf("layer metadata %v, types %+v; want sha256 %s, launch", layer.Metadata, layer.LayerTypes, both)
	}
}
