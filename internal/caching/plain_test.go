package caching

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
)

// TestPlainStoreLoadDropsUnrecordedPaths: a path renamed into the store by
// a restore that died before its record was saved is removed, a record
// whose path is gone is dropped, and Fetch's hidden lock is left alone.
func TestPlainStoreLoadDropsUnrecordedPaths(t *testing.T) {
	s := PlainStore{Dir: t.TempDir()}
	hash := strings.Repeat("1", 32)
	kept := narinfo.PathInfo{StorePath: "/nix/store/" + hash + "-kept", NarHash: "sha256:" + strings.Repeat("0", 52), NarSize: 8}
	gone := narinfo.PathInfo{StorePath: "/nix/store/" + strings.Repeat("2", 32) + "-gone", NarHash: kept.NarHash, NarSize: 8,
		References: []string{kept.StorePath}}
	for _, name := range []string{hash + "-kept", strings.Repeat("3", 32) + "-unrecorded"} {
		if err := os.MkdirAll(filepath.Join(s.StoreDir(), name, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(s.StoreDir(), name), 0o555) // read-only, as the store's
	}
	if err := os.WriteFile(filepath.Join(s.StoreDir(), ".nixbp-restore.lock"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.save(map[string]narinfo.PathInfo{kept.StorePath: kept, gone.StorePath: gone}); err != nil {
		t.Fatal(err)
	}
	infos, err := s.load()
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[kept.StorePath].NarSize != 8 {
		t.Errorf("records after load: %v", infos)
	}
	entries, _ := os.ReadDir(s.StoreDir())
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != ".nixbp-restore.lock "+hash+"-kept" {
		t.Errorf("store holds %v", names)
	}
	if complete(gone.StorePath, infos) || !complete(kept.StorePath, infos) {
		t.Error("complete() disagrees with the records")
	}
	if err := s.Keep(nil); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(s.StoreDir()); len(entries) != 1 {
		t.Errorf("after Keep(nil) the store holds %d entries, want only the lock", len(entries))
	}
	if got := closureOf(gone.StorePath, map[string]narinfo.PathInfo{kept.StorePath: kept, gone.StorePath: gone}); strings.Join(got, " ") != kept.StorePath+" "+gone.StorePath {
		t.Errorf("closureOf = %v", got)
	}
}
