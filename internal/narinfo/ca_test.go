package narinfo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestSourcePathAsNix adds a tree to a chroot store with the host's Nix
// (nix-store --add: recursive SHA-256, as builtins.path and fetchTarball
// add trees) and checks that SourcePath names the same store path from the
// NAR hash Nix recorded, and that a narinfo saying so is self-validating
// while any change to it is not.
func TestSourcePathAsNix(t *testing.T) {
	testenv.Require(t, "nix-store")
	root := testenv.EmptyStore(t)
	src := filepath.Join(t.TempDir(), "source")
	if err := os.MkdirAll(filepath.Join(src, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "bin", "x"), []byte("#!/bin/sh\necho x\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("bin/x", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	added := strings.TrimSpace(testenv.Nix(t, "", "nix-store", "--store", root, "--add", src))
	dump := testenv.Nix(t, "", "nix-store", "--store", root, "--dump-db", added)
	infos, err := ParseRegistration(strings.NewReader(dump))
	if err != nil || len(infos) != 1 {
		t.Fatalf("dump-db: %v, %v", infos, err)
	}
	digest, err := HashDigest(infos[0].NarHash)
	if err != nil {
		t.Fatal(err)
	}
	if got := SourcePath(digest, "source", nil, ""); got != added {
		t.Fatalf("SourcePath = %s, Nix added %s", got, added)
	}

	good := PathInfo{StorePath: added, NarHash: infos[0].NarHash, NarSize: infos[0].NarSize, CA: "fixed:r:" + infos[0].NarHash}
	other := "sha256:0000000000000000000000000000000000000000000000000000"
	for _, c := range []struct {
		name string
		edit func(*PathInfo)
		want bool
	}{
		{"as Nix added it", func(*PathInfo) {}, true},
		{"no CA", func(i *PathInfo) { i.CA = "" }, false},
		{"flat hash", func(i *PathInfo) { i.CA = "fixed:" + i.NarHash }, false},
		{"text hash", func(i *PathInfo) { i.CA = "text:" + i.NarHash }, false},
		{"CA hash not the NAR hash", func(i *PathInfo) { i.CA = "fixed:r:" + other; i.NarHash = other }, false},
		{"NAR hash not the CA hash", func(i *PathInfo) { i.NarHash = other }, false},
		{"another name", func(i *PathInfo) { i.StorePath = strings.TrimSuffix(i.StorePath, "source") + "sourcf" }, false},
		{"a reference the path does not say", func(i *PathInfo) { i.References = []string{pA} }, false},
		{"malformed CA", func(i *PathInfo) { i.CA = "fixed:r:sha256:xyz" }, false},
	} {
		info := good
		c.edit(&info)
		if got := info.SelfValidating(); got != c.want {
			t.Errorf("%s: SelfValidating = %v, want %v", c.name, got, c.want)
		}
	}
}
