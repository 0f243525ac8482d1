package nar

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	gonix "github.com/nix-community/go-nix/pkg/nar"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

const layerStorePath = "0lxjvvpr59c2mdram7ympy5ay741f18z-net-tools"

// unpackGoNixFixture unpacks go-nix's net-tools NAR (a real store path:
// directories, executables, symbolic links) as a store path named
// layerStorePath, and returns its directory.
func unpackGoNixFixture(t *testing.T) string {
	t.Helper()
	testdata := filepath.Join(testenv.ModuleDir(t, "github.com/nix-community/go-nix"), "test", "testdata")
	data, err := os.ReadFile(filepath.Join(testdata, goNixNAR))
	if err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	if err := Unpack(bytes.NewReader(data), store, layerStorePath, nil); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(store, layerStorePath)
}

func testLayer() Layer {
	return Layer{Parents: []tar.Header{{Typeflag: tar.TypeDir, Name: "/layers", Mode: 0o755, Uid: 0, Gid: 0},
		{Typeflag: tar.TypeDir, Name: "/layers/nix-buildpack_nix", Mode: 0o755, Uid: 2000, Gid: 2000}},
		Dir: "/layers/nix-buildpack_nix/store-0lxjvvpr59c2mdram7ympy5ay741f18z", UID: 2000, GID: 2000}
}

// TestPackLayer packs a real store path as its layer: the NAR hash is the
// narinfo's, the layer read back gives the same NAR as Nix's dump, the
// compressed bytes are what go-containerregistry makes of the same tar
// (the blob the exporter uploads), and the tar lists what the exporter
// lists, as the exporter names and owns it.
func TestPackLayer(t *testing.T) {
	dir := unpackGoNixFixture(t)
	p, err := PackLayer(dir, 0, testLayer())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.NarSize != goNixNarSize || nixbase32(p.NarSHA256) != goNixNarHash {
		t.Fatalf("NAR of the layer's tree: %d bytes hashing to %s, want %d and %s", p.NarSize, nixbase32(p.NarSHA256), goNixNarSize, goNixNarHash)
	}
	blob, err := io.ReadAll(p.Body)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(blob); !bytes.Equal(sum[:], p.FileSHA256) || int64(len(blob)) != p.FileSize {
		t.Fatalf("FileSHA256/FileSize do not describe the body")
	}

	// The NAR read back from the layer is Nix's dump of the tree.
	var want bytes.Buffer
	if err := gonix.DumpPath(&want, dir); err != nil {
		t.Fatal(err)
	}
	dec, _, err := Decompress(LayerCompression, bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(dec)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("the layer reads back as a NAR of %d bytes that differs from the dump (%d bytes)", len(got), want.Len())
	}

	// go-containerregistry compresses the uncompressed tar into the same blob.
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	tarBytes, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tarBytes)), nil })
	if err != nil {
		t.Fatal(err)
	}
	d, err := l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if d.Hex != hex.EncodeToString(p.FileSHA256) {
		t.Fatalf("go-containerregistry's blob of the same tar is %s, PackLayer's sha256:%x", d, p.FileSHA256)
	}

	// Names, owners, times as the exporter writes them.
	tr := tar.NewReader(bytes.NewReader(tarBytes))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		wantUID := 2000
		if h.Name == "/layers" {
			wantUID = 0
		}
		if h.Uid != wantUID || h.Uname != "" || !h.ModTime.Equal(layerModTime) {
			t.Errorf("%s: uid %d, uname %q, mtime %v; want %d, empty, %v", h.Name, h.Uid, h.Uname, h.ModTime, wantUID, layerModTime)
		}
	}
	prefix := testLayer().Dir + "/store/" + layerStorePath
	wantFirst := []string{"/layers", "/layers/nix-buildpack_nix", testLayer().Dir, testLayer().Dir + "/store", prefix, prefix + "/bin", prefix + "/bin/arp"}
	if len(names) < len(wantFirst) || strings.Join(names[:len(wantFirst)], " ") != strings.Join(wantFirst, " ") {
		t.Fatalf("tar entries begin %v, want %v", names[:min(len(names), len(wantFirst))], wantFirst)
	}
}

// tarGz builds a gzip-compressed tar of hs (regular files get contents of
// their Size in 'x'), and appends trailer after the tar's end.
func tarGz(t *testing.T, trailer []byte, hs ...tar.Header) []byte {
	t.Helper()
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, h := range hs {
		if h.Mode == 0 {
			h.Mode = 0o444
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(bytes.Repeat([]byte("x"), int(h.Size))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	raw.Write(trailer)
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(raw.Bytes())
	zw.Close()
	return out.Bytes()
}

func TestLayerNARRefuses(t *testing.T) {
	const sp = "l/store/0lxjvvpr59c2mdram7ympy5ay741f18z-x"
	dir := func(n string) tar.Header { return tar.Header{Typeflag: tar.TypeDir, Name: n, Mode: 0o555} }
	file := func(n string, size int64) tar.Header { return tar.Header{Typeflag: tar.TypeReg, Name: n, Size: size} }
	tests := []struct {
		name    string
		blob    []byte
		wantNAR bool
		err     string
	}{
		{name: "a directory path", blob: tarGz(t, nil, dir("l"), dir("l/store"), dir(sp), file(sp+"/a", 3), dir(sp+"/b"), file(sp+"/b/c", 1)), wantNAR: true},
		{name: "a file path", blob: tarGz(t, nil, dir("l"), dir("l/store"), file(sp, 5)), wantNAR: true},
		{name: "a symlink path", blob: tarGz(t, nil, dir("l/store"), tar.Header{Typeflag: tar.TypeSymlink, Name: sp, Linkname: "/x"}), wantNAR: true},
		{name: "zero padding after the tar", blob: tarGz(t, make([]byte, 9216), dir("l/store"), file(sp, 1)), wantNAR: true},
		{name: "no store path", blob: tarGz(t, nil, dir("l"), dir("l/store")), err: "holds no store path"},
		{name: "a file before the store path", blob: tarGz(t, nil, file("l/x", 1), dir(sp)), err: "before any store path"},
		{name: "a directory that is not a parent", blob: tarGz(t, nil, dir("other"), dir(sp)), err: "not a parent of the store path"},
		{name: "an entry outside the store path", blob: tarGz(t, nil, dir(sp), file(sp+"/a", 1), file("l/store/evil", 1)), err: "not under the store path"},
		{name: "a second store path", blob: tarGz(t, nil, dir(sp), file("l/store/1lxjvvpr59c2mdram7ympy5ay741f18z-y", 1)), err: "not under the store path"},
		{name: "a hard link", blob: tarGz(t, nil, dir(sp), tar.Header{Typeflag: tar.TypeLink, Name: sp + "/h", Linkname: sp + "/a"}), err: "tar type"},
		{name: "a device", blob: tarGz(t, nil, dir(sp), tar.Header{Typeflag: tar.TypeChar, Name: sp + "/dev"}), err: "tar type"},
		{name: "out of NAR order", blob: tarGz(t, nil, dir(sp), file(sp+"/b", 1), file(sp+"/a", 1)), err: "lexicographically"},
		{name: "twice the same name", blob: tarGz(t, nil, dir(sp), file(sp+"/a", 1), file(sp+"/a", 1)), err: "descending path"},
		{name: "data after the tar", blob: tarGz(t, []byte("evil"), dir(sp)), err: "data after its tar"},
		{name: "not gzip", blob: []byte("not a layer"), err: "not gzip-compressed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec, _, err := Decompress(LayerCompression, bytes.NewReader(tt.blob))
			var nar []byte
			if err == nil {
				nar, err = io.ReadAll(dec)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// What comes out is a NAR the parser accepts.
			if err := Check(bytes.NewReader(nar), nil); err != nil {
				t.Fatalf("the NAR made from the layer is refused: %v", err)
			}
		})
	}
}
