package nixmount_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestFindPRootPrefersPATH: the image's proot on PATH first, the bundled
// one beside the running binary only when PATH has none.
func TestFindPRootPrefersPATH(t *testing.T) {
	bundled := filepath.Dir(testenv.BesideBundledPRoot(t))
	onPath := filepath.Dir(testenv.BesideBundledPRoot(t))
	empty := t.TempDir()
	for _, tt := range []struct {
		name, path, dir string
		want            string
		bundled         bool
		err             string
	}{
		{"image's", onPath, bundled, filepath.Join(onPath, "proot"), false, ""},
		{"bundled", empty, bundled, filepath.Join(bundled, "proot"), true, ""},
		{"bundled, on PATH (the slug's .nix/bin)", bundled, bundled, filepath.Join(bundled, "proot"), true, ""},
		{"neither", empty, empty, "", false, "proot is not installed (not on PATH) and no bundled proot is beside " + empty},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PATH", tt.path)
			got, isBundled, err := nixmount.FindPRoot(tt.dir)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("FindPRoot(%s) = %q, %v; want error %q", tt.dir, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want || isBundled != tt.bundled {
				t.Fatalf("FindPRoot(%s) = %q, %t, %v; want %q, %t", tt.dir, got, isBundled, err, tt.want, tt.bundled)
			}
		})
	}
}

// TestBundledPRootShowsTheStore: with no proot on PATH, the proot strategy
// runs the bundled static proot beside the running binary, and the view
// says so.
func TestBundledPRootShowsTheStore(t *testing.T) {
	self := testenv.BesideBundledPRoot(t)
	t.Setenv("PATH", testenv.PathWithout(t, "proot"))
	nixDir, text := storeWithMarker(t)
	v, err := nixmount.Open(nixDir, nixmount.PRoot, func(v *nixmount.View) { v.Self = self })
	if err != nil {
		t.Fatalf("Open(proot): %v", err)
	}
	want := filepath.Join(filepath.Dir(self), "proot")
	if v.PRootPath != want || !v.PRootBundled || v.Through() != "proot "+want+" (bundled)" {
		t.Fatalf("view = %+v (%s), want the bundled %s", v, v.Through(), want)
	}
	out, err := v.Command("cat", "/nix/store/marker-path/hello").CombinedOutput()
	if err != nil || string(out) != text {
		t.Fatalf("cat through the bundled proot = %q, %v; want %q", out, err, text)
	}
	out, err = v.Command("ls", "/nix/store").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "marker-path" {
		t.Fatalf("ls /nix/store through the bundled proot = %q, %v", out, err)
	}
	if _, err := os.Stat(want); err != nil {
		t.Fatal(err)
	}
}
