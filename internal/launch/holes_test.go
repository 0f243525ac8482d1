package launch

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFillHoles: with nixStore linked to the layers directory, the paths
// that have a layer of their own are there already, and fillHoles links the
// others (a grouped path, a file) as the view does; a nixStore that is not
// the layers directory, or a read-only one, is refused.
func TestFillHoles(t *testing.T) {
	root := t.TempDir()
	layers := filepath.Join(root, "layers", "nix-buildpack_nix")
	own, grouped, file := "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-lib", "cccccccccccccccccccccccccccccccc-script"
	view := filepath.Join(layers, "view", "nix")
	for _, d := range []string{filepath.Join(layers, own), filepath.Join(layers, "store-group-x", "store", grouped), filepath.Join(layers, "store-c", "store"), filepath.Join(view, "store")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(layers, "store-c", "store", file), []byte("#!/bin/sh\n"), 0o555); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{own: filepath.Join(layers, own),
		grouped: filepath.Join(layers, "store-group-x", "store", grouped), file: filepath.Join(layers, "store-c", "store", file)} {
		if err := os.Symlink(target, filepath.Join(view, "store", name)); err != nil {
			t.Fatal(err)
		}
	}
	nixStore := filepath.Join(root, "nix-store")
	if err := os.Symlink(layers, nixStore); err != nil {
		t.Fatal(err)
	}
	if err := fillHoles(filepath.Join(root, "layers"), view); err == nil {
		t.Error("fillHoles accepted a /nix/store that is not the layers directory")
	}
	if err := os.Chmod(layers, 0o555); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() != 0 { // root writes anyway
		if err := fillHoles(nixStore, view); err == nil {
			t.Error("fillHoles succeeded in a read-only layers directory")
		}
	}
	if err := os.Chmod(layers, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // twice: links already made are kept
		if err := fillHoles(nixStore, view); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{own, grouped, file} {
		if _, err := os.Stat(filepath.Join(nixStore, name)); err != nil {
			t.Errorf("%s not reachable at the store: %v", name, err)
		}
	}
	if fi, err := os.Lstat(filepath.Join(layers, own)); err != nil || !fi.IsDir() {
		t.Errorf("the layer %s was replaced: %v, %v", own, fi, err)
	}
}
