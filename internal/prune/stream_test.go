package prune

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestCopyLinkIntoSource checks that a --link copy into a directory inside
// SRC keeps what Plan listed before DST existed: the walk must not read the
// entries it creates (Copy does not create while reading in that case).
func TestCopyLinkIntoSource(t *testing.T) {
	src := tempDir(t)
	must(t, os.MkdirAll(filepath.Join(src, "a/b"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "a/b/f"), []byte("f"), 0o644))
	must(t, os.WriteFile(filepath.Join(src, "g"), []byte("g"), 0o644))
	want, err := Plan(src, nil, Options{})
	must(t, err)
	rep, err := Copy(src, filepath.Join(src, "out"), nil, Options{Link: true})
	must(t, err)
	if got := rep.KeptPaths(); !slices.Equal(got, want.KeptPaths()) {
		t.Errorf("kept %q, want %q", got, want.KeptPaths())
	}
	if _, err := os.Lstat(filepath.Join(src, "out/out")); err == nil {
		t.Errorf("out/out exists: the copy read what it created")
	}
}

// TestCopyLinkMissingSelection checks that a selected path missing from SRC
// is refused before anything is written, as Plan refuses it.
func TestCopyLinkMissingSelection(t *testing.T) {
	tmp := tempDir(t)
	src, dst := filepath.Join(tmp, "src"), filepath.Join(tmp, "dst")
	must(t, os.MkdirAll(filepath.Join(src, "store/p1"), 0o755))
	_, err := Copy(src, dst, nil, Options{Link: true, Selected: []string{"store/p1", "store/p2"}})
	if err == nil {
		t.Fatal("Copy with a missing selected path succeeded")
	}
	if _, serr := os.Lstat(dst); serr == nil {
		t.Errorf("%s was created before the error %v", dst, err)
	}
}
