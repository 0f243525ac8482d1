package nar

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nix-community/go-nix/pkg/nixhash"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// goNixNAR is go-nix's NAR fixture (net-tools, from cache.nixos.org) and
// its NarHash and NarSize, from the narinfo go-nix's tests pair with it.
const (
	goNixNAR     = "nar_1094wph9z4nwlgvsd53abfz8i117ykiv5dwnq9nnhz846s7xqd7d.nar"
	goNixNarHash = "0lxjvvpr59c2mdram7ympy5ay741f180kv3349hvfc3f8nrmbqf6"
	goNixNarSize = 464152
)

func nixbase32(digest []byte) string {
	return nixhash.MustNewHashWithEncoding(nixhash.SHA256, digest, nixhash.NixBase32, false).String()
}

// TestGoNixFixture checks, unpacks and packs again go-nix's NAR: its hash
// and size are the narinfo's, bin/arp comes out as go-nix's extracted copy
// of it, and the tree packs back into the same bytes.
func TestGoNixFixture(t *testing.T) {
	testdata := filepath.Join(testenv.ModuleDir(t, "github.com/nix-community/go-nix"), "test", "testdata")
	data, err := os.ReadFile(filepath.Join(testdata, goNixNAR))
	if err != nil {
		t.Fatal(err)
	}
	tap := NewTap(goNixNarSize, nil)
	if err := Check(bytes.NewReader(data), tap); err != nil {
		t.Fatal(err)
	}
	if tap.Size() != goNixNarSize || nixbase32(tap.Sum()) != goNixNarHash {
		t.Fatalf("checked %d bytes hashing to %s, want %d and %s", tap.Size(), nixbase32(tap.Sum()), goNixNarSize, goNixNarHash)
	}
	if err := Check(bytes.NewReader(data), NewTap(goNixNarSize-1, os.ErrInvalid)); err != os.ErrInvalid {
		t.Fatalf("a tap one byte short: %v, want its error", err)
	}

	parent := t.TempDir()
	if err := Unpack(bytes.NewReader(data), parent, "out", nil); err != nil {
		t.Fatal(err)
	}
	arp, err := os.ReadFile(filepath.Join(parent, "out", "bin", "arp"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(testdata, goNixNAR+"_bin_arp"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(arp, want) {
		t.Fatal("bin/arp differs from go-nix's copy")
	}

	packed, err := Pack(filepath.Join(parent, "out"), goNixNarSize, "none")
	if err != nil {
		t.Fatal(err)
	}
	defer packed.Close()
	var again bytes.Buffer
	if _, err := again.ReadFrom(packed.Body); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), data) || packed.NarSize != goNixNarSize || nixbase32(packed.NarSHA256) != goNixNarHash {
		t.Fatalf("packing the unpacked tree gave %d bytes hashing to %s, want the fixture's", packed.NarSize, nixbase32(packed.NarSHA256))
	}
}

// TestAgreesWithNix packs a tree as nix-store --dump does, and unpacks
// Nix's NAR of it into the tree nix-store --restore makes (with the
// store's modes and mtime on top), in every compression Pack writes.
func TestAgreesWithNix(t *testing.T) {
	testenv.Require(t, "nix-store")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	for rel, mode := range map[string]os.FileMode{"bin/tool": 0o755, "lib/a.txt": 0o644, "lib/sub/empty": 0o600, "share/doc/README": 0o444} {
		p := filepath.Join(tree, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.Repeat(rel+"\n", len(rel)*100)), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../lib/a.txt", filepath.Join(tree, "bin", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(tree, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	nixNAR, err := exec.Command("nix-store", "--dump", tree).Output()
	if err != nil {
		t.Fatalf("nix-store --dump: %v", err)
	}
	for _, compression := range []string{"none", "zstd", "xz"} {
		packed, err := Pack(tree, 0, compression)
		if err != nil {
			t.Fatal(err)
		}
		dec, _, err := Decompress(compression, packed.Body)
		if err != nil {
			t.Fatal(err)
		}
		var ours bytes.Buffer
		if _, err := ours.ReadFrom(dec); err != nil {
			t.Fatal(err)
		}
		packed.Close()
		if !bytes.Equal(ours.Bytes(), nixNAR) {
			t.Fatalf("%s: Pack's NAR differs from nix-store --dump's", compression)
		}
	}

	restored := filepath.Join(dir, "restored")
	cmd := exec.Command("nix-store", "--restore", restored)
	cmd.Stdin = bytes.NewReader(nixNAR)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nix-store --restore: %v\n%s", err, out)
	}
	if err := Unpack(bytes.NewReader(nixNAR), dir, "unpacked", nil); err != nil {
		t.Fatal(err)
	}
	// Nix's restore keeps the umask's modes and the time of the restore;
	// the store's are 0444/0555 and mtime 1, which Unpack sets itself.
	got := testenv.DescribeTree(t, filepath.Join(dir, "unpacked"))
	want := testenv.DescribeTree(t, restored)
	for i, line := range want {
		path, rest, _ := strings.Cut(line, " ")
		f := strings.Fields(rest)
		mode := "-r--r--r--"
		switch {
		case strings.HasPrefix(f[0], "d"):
			mode = "dr-xr-xr-x"
		case strings.HasPrefix(f[0], "L"):
			mode = f[0]
		case strings.Contains(f[0], "x"):
			mode = "-r-xr-xr-x"
		}
		f[0], f[1] = mode, "mtime=1"
		want[i] = strings.Join(append([]string{path}, f...), " ")
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Unpack made\n%s\nnix-store --restore made (with the store's modes)\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
