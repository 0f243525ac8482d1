package nixpkgs_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
)

// entry is one member of a tarball made by tarOf.
type entry struct {
	name, text, link string
	// hard is the target of a hard link.
	hard      string
	dir, fifo bool
}

func tarOf(t *testing.T, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(e.text))}
		switch {
		case e.dir:
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		case e.hard != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeLink, e.hard, 0
		case e.link != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.link, 0
		case e.fifo:
			h.Typeflag, h.Size = tar.TypeFifo, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write([]byte(e.text)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// dirStore is a store directory whose validity is a map. It stands in for
// Nix where what is tested is the download and the refusals, not the
// registration (TestUnpackedWhereNixUnpacks registers with Nix).
type dirStore struct {
	dir   string
	mu    sync.Mutex
	valid map[string]bool
}

func newDirStore(t *testing.T) *dirStore {
	t.Helper()
	d := filepath.Join(t.TempDir(), "store")
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = filepath.WalkDir(d, func(p string, _ os.DirEntry, _ error) error { _ = os.Chmod(p, 0o755); return nil })
	})
	return &dirStore{dir: d, valid: map[string]bool{}}
}

func (s *dirStore) Dir() string { return s.dir }

func (s *dirStore) Valid(paths []string) (map[string]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for _, p := range paths {
		out[p] = s.valid[p]
	}
	return out, nil
}

func (s *dirStore) Register(infos []narinfo.PathInfo) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, i := range infos {
		s.valid[i.StorePath] = true
	}
	return nil
}

// age moves the state file's last check back by d.
func age(t *testing.T, state string, d time.Duration) {
	t.Helper()
	data, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	r["checked"] = time.Now().Add(-d)
	data, _ = json.Marshal(r)
	if err := os.WriteFile(state, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
