package sbom_test

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/sbom"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

func TestMain(m *testing.M) {
	nixmount.MaybeRunChild()
	os.Exit(m.Run())
}

// TestQueryAgreesWithNix installs Nix from the tarball fixture and checks
// Query's hashes and sizes of Nix's own closure against what
// `nix-store --query --hash` and `--size` print for each path.
func TestQueryAgreesWithNix(t *testing.T) {
	tarball := testenv.NixTarball(t)
	version := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(tarball), "nix-"), "-x86_64-linux.tar.xz")
	nix, err := nixinstall.Ensure(filepath.Join(t.TempDir(), "nix"), nixinstall.Source{Version: version, Checksum: "test",
		Open: func() (io.ReadCloser, error) { return os.Open(tarball) }}, nixmount.Auto, nixinstall.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := nix.Command("nix-store", "--query", "--requisites", nix.StorePath).Output()
	if err != nil {
		t.Fatal(err)
	}
	closure := nixinstall.ReadLines(out)
	got, err := sbom.Query(nix, closure)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(closure) {
		t.Fatalf("Query gave %d paths for %d", len(got), len(closure))
	}
	for i, p := range got {
		hash, err1 := nix.Command("nix-store", "--query", "--hash", closure[i]).Output()
		size, err2 := nix.Command("nix-store", "--query", "--size", closure[i]).Output()
		if err1 != nil || err2 != nil {
			t.Fatalf("nix-store --query %s: %v %v", closure[i], err1, err2)
		}
		if p.StorePath != closure[i] || p.NarHash != strings.TrimSpace(string(hash)) ||
			strconv.FormatUint(p.NarSize, 10) != strings.TrimSpace(string(size)) {
			t.Errorf("Query = %+v; nix-store says hash %s size %s", p, hash, size)
		}
	}
	if _, err := sbom.Query(nix, []string{"/nix/store/00000000000000000000000000000000-absent"}); err == nil {
		t.Error("Query of a path that is not in the store succeeded")
	}
}
