package cache

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/nix-buildpack/nix-buildpack/internal/cache/storedir"
)

// TestSweepSparesRunningRestores leaves temporary trees in a store: Fetch
// removes them, except while another restore holds the store's lock (its
// trees may be in use), and never touches names that are not ours.
func TestSweepSparesRunningRestores(t *testing.T) {
	storeDir := t.TempDir()
	ours := filepath.Join(storeDir, ".7zh0zg1dv0zq3ixm8c4iy0cx4hpk46ap-big.tmp-0123456789ab")
	others := []string{
		".links",
		"7zh0zg1dv0zq3ixm8c4iy0cx4hpk46ap-big", // a store path
		".7zh0zg1dv0zq3ixm8c4iy0cx4hpk46ap-big.tmp-xyz",         // not our suffix
		".not-a-hash-big.tmp-0123456789ab",                      // not a store path name
		"7zh0zg1dv0zq3ixm8c4iy0cx4hpk46ap-big.tmp-0123456789ab", // not hidden
	}
	for _, d := range append([]string{ours}, others...) {
		if err := os.MkdirAll(filepath.Join(storeDir, filepath.Base(d), "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A read-only tree, as a killed unpack leaves it.
	if err := os.Chmod(filepath.Join(ours, "sub"), 0o555); err != nil {
		t.Fatal(err)
	}
	store := noneValid(storeDir)
	c := openCache(t, "file://"+t.TempDir(), Options{})

	// Another restore is running: it holds the lock shared.
	fd, err := unix.Open(filepath.Join(storeDir, storedir.LockName), unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(fd, unix.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(ctx(t), nil, store); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ours); err != nil {
		t.Fatalf("a running restore's temporary tree was removed: %v", err)
	}
	unix.Close(fd)

	if _, err := c.Fetch(ctx(t), nil, store); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ours); err == nil {
		t.Fatal("the stale temporary tree is still there")
	}
	for _, o := range others {
		if _, err := os.Stat(filepath.Join(storeDir, o)); err != nil {
			t.Errorf("%s, not ours, was removed: %v", o, err)
		}
	}
}
