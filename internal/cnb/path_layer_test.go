package cnb

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/layering"
	"github.com/nix-buildpack/nix-buildpack/internal/tree"
)

// TestRootLayers: a single store path that is a directory becomes a layer
// named after it with its content at the root; a single file or symlink and
// a group keep store/<path>; the view's link for each reaches the content.
func TestRootLayers(t *testing.T) {
	staged, layers := t.TempDir(), t.TempDir()
	t.Cleanup(func() { tree.Remove(staged); tree.Remove(layers) })
	dir, file, link := "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-script", "cccccccccccccccccccccccccccccccc-link"
	g1, g2 := "dddddddddddddddddddddddddddddddd-lib", "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-share"
	for _, d := range []string{dir, g1, g2} {
		if err := os.MkdirAll(filepath.Join(staged, d, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(staged, d, "bin", "x"), []byte(d), 0o555); err != nil {
			t.Fatal(err)
		}
		// Store directories are read-only.
		if err := os.Chmod(filepath.Join(staged, d), 0o555); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(staged, file), []byte("#!/bin/sh\n"), 0o555); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/nix/store/"+dir, filepath.Join(staged, link)); err != nil {
		t.Fatal(err)
	}
	plan := rootLayers([]layering.Layer{
		{Name: "store-" + dir[:32], Paths: []string{dir}},
		{Name: "store-" + file[:32], Paths: []string{file}},
		{Name: "store-" + link[:32], Paths: []string{link}},
		{Name: "store-group-x", Paths: []string{g1, g2}},
	}, staged)
	want := []string{dir, "store-" + file[:32], "store-" + link[:32], "store-group-x"}
	for i, l := range plan {
		if l.Name != want[i] {
			t.Errorf("layer %d named %s, want %s", i, l.Name, want[i])
		}
		if err := fillStoreLayer(filepath.Join(layers, l.Name), staged, l); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(filepath.Join(layers, dir)); err != nil || fi.Mode().Perm() != 0o555 {
		t.Errorf("layer %s: %v, %v; want the read-only store directory itself", dir, fi, err)
	}
	for _, c := range []struct {
		l    layering.Layer
		name string
		file string // a file in the path (relative) and its content
		data string
	}{
		{plan[0], dir, "bin/x", dir},
		{plan[1], file, "", "#!/bin/sh\n"},
		{plan[3], g1, "bin/x", g1},
		{plan[3], g2, "bin/x", g2},
	} {
		got, err := os.ReadFile(filepath.Join(pathIn(layers, c.l, c.name), c.file))
		if err != nil || string(got) != c.data {
			t.Errorf("%s in layer %s: %q, %v; want %q", c.name, c.l.Name, got, err, c.data)
		}
	}
	if target, err := os.Readlink(pathIn(layers, plan[2], link)); err != nil || target != "/nix/store/"+dir {
		t.Errorf("symlink store path: %q, %v", target, err)
	}
}
