package cache

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/nix-buildpack/nix-buildpack/internal/cache/storedir"
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
)

// writeZeroFileNAR writes, zstd-compressed, the NAR of one regular file of
// size zero bytes (which compresses to almost nothing).
func writeZeroFileNAR(t testing.TB, file string, size int64) {
	t.Helper()
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := zstd.NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	str := func(s string) {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		pad := make([]byte, (8-len(s)%8)%8)
		_, _ = z.Write(n[:])
		_, _ = z.Write([]byte(s))
		_, _ = z.Write(pad)
	}
	for _, s := range []string{"nix-archive-1", "(", "type", "regular", "contents"} {
		str(s)
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(size))
	_, _ = z.Write(n[:])
	zeros := make([]byte, 1<<20)
	for left := size; left > 0; left -= int64(len(zeros)) {
		if _, err := z.Write(zeros[:min(left, int64(len(zeros)))]); err != nil {
			t.Fatal(err)
		}
	}
	str(")")
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
}

// writtenBytes is how many bytes this process has passed to write(2) so far.
func writtenBytes(t testing.TB) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skipf("no /proc/self/io: %v", err)
	}
	m := regexp.MustCompile(`(?m)^wchar: (\d+)$`).FindSubmatch(data)
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}

// TestOversizedNARStopsAtItsNarinfoSize serves a NAR holding a 200 MB file
// of zeros (a few kilobytes compressed) under a narinfo that says it is 112
// bytes (or whose FileSize is too small): Fetch and Verify must refuse it
// naming the narinfo, having written next to nothing to disk.
func TestOversizedNARStopsAtItsNarinfoSize(t *testing.T) {
	const big = 200 << 20
	const sp = "/nix/store/7zh0zg1dv0zq3ixm8c4iy0cx4hpk46ap-big"
	for _, tt := range []struct {
		name              string
		narSize, fileSize uint64 // 0: the real size
		maxWrite          int64  // bytes the fetch may write
		want              string
	}{
		// 112 bytes of NAR hold the file's first bytes at most.
		{"NarSize too small", 112, 0, 1 << 20, `its NAR nar/big\.nar\.zst unpacks to more than the NarSize 112 of 7zh0zg1dv0zq3ixm8c4iy0cx4hpk46ap\.narinfo`},
		// 100 bytes of zstd unpack to a few MB of zeros: bounded, far
		// below the 200 MB the file holds.
		{"FileSize too small", 0, 100, 32 << 20, `its NAR file nar/big\.nar\.zst is larger than the FileSize 100 of 7zh0zg1dv0zq3ixm8c4iy0cx4hpk46ap\.narinfo`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "nar"), 0o755); err != nil {
				t.Fatal(err)
			}
			nar := filepath.Join(dir, "nar", "big.nar.zst")
			writeZeroFileNAR(t, nar, big)
			fi, err := os.Stat(nar)
			if err != nil {
				t.Fatal(err)
			}
			e := narinfo.NarInfo{PathInfo: narinfo.PathInfo{StorePath: sp, NarHash: hash32, NarSize: tt.narSize},
				URL: "nar/big.nar.zst", Compression: "zstd", FileHash: hash32, FileSize: tt.fileSize}
			if e.NarSize == 0 {
				e.NarSize = big + 112
			}
			if e.FileSize == 0 {
				e.FileSize = uint64(fi.Size())
			}
			if err := os.WriteFile(filepath.Join(dir, narinfo.HashPart(sp)+".narinfo"), []byte(e.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			storeDir := t.TempDir()
			store := noneValid(storeDir)
			c := openCache(t, "file://"+dir, Options{RetryDelay: 1})

			before := writtenBytes(t)
			res, err := c.Fetch(ctx(t), []string{sp}, store)
			written := writtenBytes(t) - before
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(res.Warnings, regexp.MustCompile(tt.want).MatchString) {
				t.Errorf("warnings %q, want one matching %q", res.Warnings, tt.want)
			}
			if len(res.Installed) != 0 || !slices.Equal(res.Missing, []string{sp}) {
				t.Errorf("installed %v, missing %v", res.Installed, res.Missing)
			}
			t.Logf("the fetch wrote %d bytes (the NAR holds a %d-byte file)", written, big)
			if written > tt.maxWrite {
				t.Errorf("the fetch wrote %d bytes for a NAR its narinfo bounds to %d", written, e.NarSize)
			}
			entries, _ := os.ReadDir(storeDir)
			for _, en := range entries {
				if en.Name() != storedir.LockName {
					t.Errorf("left in the store: %s", en.Name())
				}
			}

			v, err := c.Verify(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(v.Bad) != 1 || !regexp.MustCompile(tt.want).MatchString(v.Bad[0].Reason) {
				t.Errorf("verify found %+v, want one problem matching %q", v.Bad, tt.want)
			}
		})
	}
}
