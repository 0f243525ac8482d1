package closure_test

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/closure"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/nixstore"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

func TestMain(m *testing.M) {
	nixmount.MaybeRunChild()
	os.Exit(m.Run())
}

// TestReadGraphAgreesWithNix installs Nix from the tarball fixture and
// checks ReadGraph's hashes and sizes of Nix's own closure against what
// `nix-store --query --hash` and `--size` print for each path.
func TestReadGraphAgreesWithNix(t *testing.T) {
	tarball := testenv.NixTarball(t)
	version := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(tarball), "nix-"), "-x86_64-linux.tar.xz")
	nix, err := nixinstall.Ensure(filepath.Join(t.TempDir(), "nix"), nixinstall.Tarball{Version: version, Checksum: "test",
		Open: func() (io.ReadCloser, error) { return os.Open(tarball) }}, nixmount.Auto, nixinstall.Conf{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := nix.Command("nix-store", "--query", "--requisites", nix.StorePath).Output()
	if err != nil {
		t.Fatal(err)
	}
	paths := nixstore.ReadLines(out)
	g, err := closure.ReadGraph(nix.Store(), paths)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Infos) != len(paths) {
		t.Fatalf("ReadGraph gave %d paths for %d", len(g.Infos), len(paths))
	}
	for i := range paths {
		p := g.Infos[paths[i]]
		hash, err1 := nix.Command("nix-store", "--query", "--hash", paths[i]).Output()
		size, err2 := nix.Command("nix-store", "--query", "--size", paths[i]).Output()
		if err1 != nil || err2 != nil {
			t.Fatalf("nix-store --query %s: %v %v", paths[i], err1, err2)
		}
		if p.StorePath != paths[i] || p.NarHash != strings.TrimSpace(string(hash)) ||
			strconv.FormatUint(p.NarSize, 10) != strings.TrimSpace(string(size)) {
			t.Errorf("ReadGraph = %+v; nix-store says hash %s size %s", p, hash, size)
		}
		if int64(p.NarSize) != g.NarSizes[paths[i]] {
			t.Errorf("NarSizes[%s] = %d, want %d", paths[i], g.NarSizes[paths[i]], p.NarSize)
		}
	}
	if _, err := closure.ReadGraph(nix.Store(), []string{"/nix/store/00000000000000000000000000000000-absent"}); err == nil {
		t.Error("ReadGraph of a path that is not in the store succeeded")
	}
}
