package caching_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/caching"
)

func TestSourceDigest(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, body string, mode os.FileMode) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // WriteFile keeps an existing file's mode
			t.Fatal(err)
		}
	}
	digest := func() string {
		d, err := caching.SourceDigest(dir)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	write("hop3.nix", "{ }", 0o644)
	write("src/main.sh", "echo hi", 0o755)
	base := digest()
	if digest() != base {
		t.Fatal("digest is not stable")
	}
	write(".git/HEAD", "ref: refs/heads/main", 0o644)
	if digest() != base {
		t.Fatal(".git changed the digest")
	}
	write("src/main.sh", "echo hi", 0o644)
	if digest() == base {
		t.Fatal("the executable bit did not change the digest")
	}
	write("src/main.sh", "echo hi", 0o755)
	write("src/other", "", 0o644)
	if digest() == base {
		t.Fatal("a new file did not change the digest")
	}
	if err := os.Remove(filepath.Join(dir, "src/other")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("main.sh", filepath.Join(dir, "src/link")); err != nil {
		t.Fatal(err)
	}
	if digest() == base {
		t.Fatal("a symlink did not change the digest")
	}
}
