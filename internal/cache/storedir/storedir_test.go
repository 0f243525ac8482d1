package storedir

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"github.com/nix-buildpack/nix-buildpack/internal/cache/backend"
	"github.com/nix-buildpack/nix-buildpack/internal/nar"
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
)

// dirStore is a store directory whose database holds the paths in valid.
type dirStore struct {
	dir   string
	valid map[string]bool
}

func (s dirStore) Dir() string { return s.dir }
func (s dirStore) Valid(paths []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, p := range paths {
		out[p] = s.valid[p]
	}
	return out, nil
}

const (
	hello = "/nix/store/7zh0zg1dv0zq3ixm8c4iy0cx4hpk46ap-hello"
	lib   = "/nix/store/b8zzzm23p9pd6h8zbaiz806gqid7q81v-lib"
)

// packed makes a small tree and returns its NAR file (zstd) and narinfo
// as a cache would hold them.
func packed(t *testing.T, storePath string, refs ...string) ([]byte, *narinfo.NarInfo) {
	t.Helper()
	src := filepath.Join(t.TempDir(), filepath.Base(storePath))
	if err := os.MkdirAll(filepath.Join(src, "share"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "share", "a.txt"), []byte("hello from "+storePath+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("share/a.txt", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	p, err := nar.Pack(src, 0, "zstd")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	data, err := io.ReadAll(p.Body)
	if err != nil {
		t.Fatal(err)
	}
	e := &narinfo.NarInfo{
		PathInfo: narinfo.PathInfo{StorePath: storePath, NarHash: narinfo.FormatSHA256(p.NarSHA256), NarSize: uint64(p.NarSize), References: refs},
		URL:      "nar/" + filepath.Base(storePath) + ".nar.zst", Compression: "zstd",
		FileHash: narinfo.FormatSHA256(p.FileSHA256), FileSize: uint64(p.FileSize),
	}
	return data, e
}

// entries lists what is in dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestUnpackInstall unpacks a NAR beside its place, checked against its
// narinfo, and installs it: the files are there, the temporary tree is
// gone, the bytes were counted, and Check accepts the same file.
func TestUnpackInstall(t *testing.T) {
	data, e := packed(t, hello)
	s := dirStore{dir: t.TempDir()}
	var n atomic.Int64
	tmp, err := Unpack(t.Context(), bytes.NewReader(data), e, s.dir, &n)
	if err != nil {
		t.Fatal(err)
	}
	if !tempTree.MatchString(filepath.Base(tmp)) || filepath.Dir(tmp) != s.dir {
		t.Fatalf("temporary tree %s, want .<name>.tmp-<hex> in %s", tmp, s.dir)
	}
	if n.Load() != int64(len(data)) {
		t.Errorf("counted %d bytes, the NAR file has %d", n.Load(), len(data))
	}
	installed, valid, err := Install(s, map[string]string{hello: tmp}, map[string]*narinfo.NarInfo{hello: e},
		func(string) bool { return false }, t.Logf, func(f string, a ...any) { t.Errorf("warning: "+f, a...) })
	if err != nil {
		t.Fatal(err)
	}
	if len(installed) != 1 || installed[0].StorePath != hello || len(valid) != 0 {
		t.Fatalf("installed %+v, valid %q", installed, valid)
	}
	got, err := os.ReadFile(filepath.Join(s.dir, filepath.Base(hello), "link"))
	if err != nil || string(got) != "hello from "+hello+"\n" {
		t.Fatalf("installed file: %q, %v", got, err)
	}
	if names := entries(t, s.dir); !slices.Equal(names, []string{filepath.Base(hello)}) {
		t.Errorf("store directory holds %q, want only the installed path", names)
	}
	if err := Check(bytes.NewReader(data), e, &n); err != nil {
		t.Errorf("Check of the same NAR: %v", err)
	}
	packed, err := Pack(s.dir, &e.PathInfo, "xz", nil)
	if err != nil {
		t.Fatalf("Pack of the installed path: %v", err)
	}
	packed.Close()
}

// TestUnpackRefuses: a NAR that is not what its narinfo says is a
// permanent error and leaves nothing behind; a cut transfer is worth a
// retry and its bytes are not counted.
func TestUnpackRefuses(t *testing.T) {
	data, e := packed(t, hello)
	wrongHash := *e
	wrongHash.NarHash = narinfo.FormatSHA256(make([]byte, sha256.Size))
	wrongSize := *e
	wrongSize.NarSize--
	wrongFile := *e
	wrongFile.FileHash = narinfo.FormatSHA256(make([]byte, sha256.Size))
	for _, tc := range []struct {
		name      string
		e         *narinfo.NarInfo
		want      string
		retryable bool
		unpackOK  bool // Unpack does not read FileHash; Check does
	}{
		{name: "NarHash", e: &wrongHash, want: "NAR hash mismatch"},
		{name: "NarSize", e: &wrongSize, want: "unpacks to more than the NarSize"},
		{name: "FileHash", e: &wrongFile, want: "hashes to", unpackOK: true},
		{name: "cut", e: e, want: "interrupted", retryable: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var n atomic.Int64
			mk := func() io.Reader {
				if tc.retryable {
					return io.MultiReader(bytes.NewReader(data[:len(data)/2]), iotest.ErrReader(errors.New("connection reset by peer")))
				}
				return bytes.NewReader(data)
			}
			_, err := Unpack(t.Context(), mk(), tc.e, dir, &n)
			cerr := Check(mk(), tc.e, &n)
			for what, err := range map[string]error{"Unpack": err, "Check": cerr} {
				if what == "Unpack" && tc.unpackOK {
					continue
				}
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: %v, want an error saying %q", what, err, tc.want)
				} else if backend.Retryable(err) != tc.retryable {
					t.Errorf("%s: %v: retryable %v, want %v", what, err, !tc.retryable, tc.retryable)
				}
			}
			if tc.unpackOK {
				return
			}
			if names := entries(t, dir); len(names) != 0 {
				t.Errorf("left behind %q", names)
			}
			if n.Load() != 0 {
				t.Errorf("%d bytes counted for failed transfers", n.Load())
			}
		})
	}
}

// TestInstall: a path is installed only with its references; a path on
// disk that the database holds as valid is left alone, one it does not is
// replaced by the checked tree.
func TestInstall(t *testing.T) {
	for _, tc := range []struct {
		name       string
		valid      bool // hello is on disk before, valid or not
		onDisk     bool
		libPresent bool // lib, hello's reference, is in the store already
		installed  []string
		nowValid   []string
		warning    string
	}{
		{name: "reference missing", warning: "not restored, its reference " + lib + " is not available from the cache"},
		{name: "reference present", libPresent: true, installed: []string{hello}},
		{name: "valid on disk", libPresent: true, onDisk: true, valid: true, nowValid: []string{hello}},
		{name: "invalid on disk", libPresent: true, onDisk: true, installed: []string{hello}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, e := packed(t, hello, lib)
			s := dirStore{dir: t.TempDir(), valid: map[string]bool{hello: tc.valid}}
			old := filepath.Join(s.dir, filepath.Base(hello), "old")
			if tc.onDisk {
				if err := os.MkdirAll(old, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			tmp, err := Unpack(t.Context(), bytes.NewReader(data), e, s.dir, new(atomic.Int64))
			if err != nil {
				t.Fatal(err)
			}
			var warnings []string
			installed, valid, err := Install(s, map[string]string{hello: tmp}, map[string]*narinfo.NarInfo{hello: e},
				func(p string) bool { return p == lib && tc.libPresent }, t.Logf,
				func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) })
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, info := range installed {
				got = append(got, info.StorePath)
			}
			if !slices.Equal(got, tc.installed) || !slices.Equal(valid, tc.nowValid) {
				t.Errorf("installed %q, valid %q; want %q, %q", got, valid, tc.installed, tc.nowValid)
			}
			if tc.warning != "" && !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, tc.warning) }) {
				t.Errorf("warnings %q, want one saying %q", warnings, tc.warning)
			}
			if tc.warning == "" && len(warnings) > 0 {
				t.Errorf("warnings %q", warnings)
			}
			if _, err := os.Stat(old); (err == nil) != (tc.onDisk && tc.valid) {
				t.Errorf("the copy on disk before: %v (valid %v)", err, tc.valid)
			}
			for _, name := range entries(t, s.dir) {
				if tempTree.MatchString(name) {
					t.Errorf("temporary tree %s left behind", name)
				}
			}
		})
	}
}

// TestPackRefusesChangedPath: a path whose contents differ from what the
// database records is not packed.
func TestPackRefusesChangedPath(t *testing.T) {
	_, e := packed(t, hello)
	dir := t.TempDir()
	src := filepath.Join(dir, filepath.Base(hello))
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "other"), []byte("tampered\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Pack(dir, &e.PathInfo, "zstd", nil); err == nil || !strings.Contains(err.Error(), "do not match the Nix database") {
		t.Errorf("Pack: %v, want it refused", err)
	}
	if _, err := Pack(t.TempDir(), &e.PathInfo, "zstd", nil); err == nil || !strings.Contains(err.Error(), "it is not in") {
		t.Errorf("Pack of a missing path: %v", err)
	}
}
