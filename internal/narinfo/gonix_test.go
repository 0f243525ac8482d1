package narinfo

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	gonix "github.com/nix-community/go-nix/pkg/narinfo"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// cacheNixosOrgKey is cache.nixos.org's public key, as Nix ships it in its
// default trusted-public-keys.
const cacheNixosOrgKey = "cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY="

// TestGoNixFixture reads go-nix's big.narinfo (a real narinfo of
// cache.nixos.org with 3691 references) as go-nix's parser reads it,
// writes it back as go-nix does, and checks cache.nixos.org's signature
// over its fingerprint.
func TestGoNixFixture(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testenv.ModuleDir(t, "github.com/nix-community/go-nix"), "test", "testdata", "big.narinfo"))
	if err != nil {
		t.Fatal(err)
	}
	ours, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := gonix.Parse(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, r := range theirs.References {
		refs = append(refs, StoreDir+"/"+r)
	}
	var sigs []string
	for _, s := range theirs.Signatures {
		sigs = append(sigs, s.String())
	}
	want := &NarInfo{
		PathInfo: PathInfo{StorePath: theirs.StorePath, NarHash: theirs.NarHash.String(), NarSize: theirs.NarSize,
			References: sortedRefs(refs), Deriver: StoreDir + "/" + theirs.Deriver, CA: theirs.CA},
		URL: theirs.URL, Compression: theirs.Compression, FileHash: theirs.FileHash.String(), FileSize: theirs.FileSize,
		Signatures: sigs,
	}
	if len(ours.References) != 3691 || !reflect.DeepEqual(ours, want) {
		t.Fatalf("%d references; ours differs from go-nix's:\n%+v\n%+v", len(ours.References), ours.PathInfo, want.PathInfo)
	}
	if got, want := ours.String(), theirs.String(); got != want {
		t.Errorf("String differs from go-nix's:\n%.400s\nwant\n%.400s", got, want)
	}
	if got, want := ours.Fingerprint(), theirs.Fingerprint(); got != want {
		t.Errorf("fingerprint differs from go-nix's:\n%.200s\nwant\n%.200s", got, want)
	}
	keys, err := ParsePublicKeys([]string{cacheNixosOrgKey})
	if err != nil {
		t.Fatal(err)
	}
	if !keys.Signed(ours.Fingerprint(), ours.Signatures) {
		t.Error("cache.nixos.org's signature does not verify")
	}
	ours.NarSize++
	if keys.Signed(ours.Fingerprint(), ours.Signatures) {
		t.Error("cache.nixos.org's signature verifies a changed narinfo")
	}
}
