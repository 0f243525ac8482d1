package cnb_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/buildpacks/libcnb/v2"
	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/cnb"
)

// TestBuildRelocated builds hello-web with BP_NIX_RELOCATE=always: the
// store layers hold the closure rewritten for /tmp/.nixs (not a byte of
// /nix/store/ left), the processes and the launch environment name
// /tmp/.nixs, the view records it for the launcher; a rebuild reuses every
// store layer, and one with BP_NIX_RELOCATE=never replaces them all.
func TestBuildRelocated(t *testing.T) {
	ctx := buildContext(t)
	t.Setenv("BP_NIX_RELOCATE", "always")
	layers := ctx.Layers.Path
	res, out := build(t, ctx)
	for _, w := range []string{"Relocating the runtime closure to /tmp/.nixs (2 of 2 store paths", "0 problems", "Store layers: 2 contributed, 0 reused"} {
		if !strings.Contains(out, w) {
			t.Errorf("log lacks %q:\n%s", w, out)
		}
	}
	stores := storeLayers(res)
	if len(stores) != 2 {
		t.Fatalf("store layers %v, want 2", stores)
	}
	rewritten := 0
	for _, l := range stores {
		rewritten += noStoreBytes(t, filepath.Join(layers, l))
	}
	if rewritten == 0 {
		t.Errorf("no file or link in the store layers names /tmp/.nixs/: nothing was relocated")
	}
	if len(res.Processes) != 1 {
		t.Fatalf("processes %+v", res.Processes)
	}
	args := strings.Join(res.Processes[0].Arguments, " ")
	if strings.Contains(args, "/nix/store/") || !strings.Contains(args, "-h /tmp/.nixs/") {
		t.Errorf("web arguments %q: want the relocated www directory, no /nix/store/", args)
	}
	if got, err := os.ReadFile(filepath.Join(layers, "view", "nix", "relocated")); err != nil || string(got) != "/tmp/.nixs\nlink store\n" {
		t.Errorf("view/nix/relocated = %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(layers, "view", "nix", "store", ".nixbp-closure")); err != nil {
		t.Errorf("no closure id in the view: %v", err)
	}
	for _, l := range res.Layers {
		if l.Name != "view" {
			continue
		}
		if p := l.LaunchEnvironment["PATH.prepend"]; !strings.HasPrefix(p, "/tmp/.nixs/") {
			t.Errorf("PATH.prepend = %q, want the relocated busybox bin", p)
		}
	}
	writeLayerTOMLs(t, res)

	// Unchanged: every store layer is left as it is.
	res2, out := build(t, ctx)
	if !strings.Contains(out, "Relocating the runtime closure to /tmp/.nixs (0 of 2 store paths") || !strings.Contains(out, "Reusing the runtime closure: all 2 store layers") {
		t.Errorf("rebuild did not reuse the relocated layers:\n%s", out)
	}
	if a := strings.Join(res2.Processes[0].Arguments, " "); a != args {
		t.Errorf("rebuild's web arguments %q, first build's %q", a, args)
	}
	writeLayerTOMLs(t, res2)

	// Not relocated: no layer is reused from the relocated build.
	t.Setenv("BP_NIX_RELOCATE", "never")
	res3, out := build(t, ctx)
	if !strings.Contains(out, "Store layers: 2 contributed, 0 reused") || strings.Contains(out, "Relocating") {
		t.Errorf("a build with BP_NIX_RELOCATE=never reused relocated layers:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(layers, "view", "nix", "relocated")); err == nil {
		t.Errorf("view/nix/relocated left behind")
	}
	if a := strings.Join(res3.Processes[0].Arguments, " "); !strings.Contains(a, "-h /nix/store/") {
		t.Errorf("unrelocated web arguments %q", a)
	}
}

func build(t *testing.T, ctx libcnb.BuildContext) (libcnb.BuildResult, string) {
	t.Helper()
	var out bytes.Buffer
	res, err := cnb.NewBuild(log.NewPaketoLogger(&out))(ctx)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out.String())
	}
	return res, out.String()
}

// storeLayers are the layers holding store paths: store-* and those named
// after the directory store path they hold (all but nix, view, launcher).
func storeLayers(res libcnb.BuildResult) []string {
	var names []string
	for _, l := range res.Layers {
		if l.Name != "nix" && l.Name != "view" && l.Name != "launcher" {
			names = append(names, l.Name)
		}
	}
	return names
}

// noStoreBytes fails the test for any file or symlink target under dir
// holding /nix/store/, and counts those naming /tmp/.nixs/.
func noStoreBytes(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		var data []byte
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			data = []byte(target)
		case fi.Mode().IsRegular():
			if data, err = os.ReadFile(p); err != nil {
				return err
			}
		default:
			return nil
		}
		if bytes.Contains(data, []byte("/nix/store/")) {
			t.Errorf("%s holds /nix/store/", p)
		}
		if bytes.Contains(data, []byte("/tmp/.nixs/")) {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// writeLayerTOMLs writes each returned layer's <name>.toml, as libcnb does
// after the build function returns (the next build reads them back).
func writeLayerTOMLs(t *testing.T, res libcnb.BuildResult) {
	t.Helper()
	for _, l := range res.Layers {
		f, err := os.Create(filepath.Join(filepath.Dir(l.Path), l.Name+".toml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := toml.NewEncoder(f).Encode(l); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}
