package check

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// formats checks files whose own structure the rewrite can break though
// every byte it changed is a store path: checksummed chunks (PNG) and
// ordered data (SQLite). lz4 frames and tar headers are read by inside.
func (fc *fileCheck) formats(rel, path string, head []byte) {
	switch {
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		fc.png(rel, path)
	case bytes.HasPrefix(head, []byte("SQLite format 3\x00")):
		fc.sqlite(rel)
	}
}

// png reports chunks whose CRC (over type and data) no longer matches: a
// text chunk (tEXt, iTXt) naming a store path, rewritten. Decoders refuse
// such a file, or drop the chunk.
func (fc *fileCheck) png(rel, path string) {
	bad, err := pngBadChunks(path)
	if err != nil || len(bad) == 0 {
		return
	}
	origBad, _ := pngBadChunks(filepath.Join(fc.orig, rel))
	for at, typ := range bad {
		if _, already := origBad[at]; !already {
			fc.report(rel, "PNG chunk %s at byte %d: its CRC no longer matches after the rewrite", typ, at)
		}
	}
}

// pngBadChunks returns the chunks whose CRC does not match, by offset.
func pngBadChunks(path string) (map[int64]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	bad := map[int64]string{}
	at := int64(8)
	var hdr [8]byte
	for {
		if _, err := f.ReadAt(hdr[:], at); err != nil {
			return bad, nil // the end, or a truncated file: no more chunks
		}
		n := int64(binary.BigEndian.Uint32(hdr[:4]))
		crc := crc32.NewIEEE()
		crc.Write(hdr[4:8])
		if _, err := io.Copy(crc, io.NewSectionReader(f, at+8, n)); err != nil {
			return bad, nil
		}
		var sum [4]byte
		if _, err := f.ReadAt(sum[:], at+8+n); err != nil {
			return bad, nil
		}
		if binary.BigEndian.Uint32(sum[:]) != crc.Sum32() {
			bad[at] = string(hdr[4:8])
		}
		if string(hdr[4:8]) == "IEND" {
			return bad, nil
		}
		at += 12 + n
	}
}

// sqlite reports a SQLite database whose store paths the rewrite changed:
// the records keep their lengths, but an index over them is ordered by
// the old text (/nix/store/ sorts elsewhere than the new prefix among
// other keys), so lookups through it may miss rows. SQLite keeps no
// checksum to tell.
func (fc *fileCheck) sqlite(rel string) {
	f, err := os.Open(filepath.Join(fc.orig, rel))
	if err != nil {
		return
	}
	defer f.Close()
	n, err := countStorePaths(f, fc.buf)
	if err == nil && n > 0 {
		fc.report(rel, "SQLite database with %d store paths rewritten in place: an index over them is now out of order "+
			"(rebuild it with REINDEX in the build, or keep the store)", n)
	}
}

// countStorePaths counts "/nix/store/" in r.
func countStorePaths(r io.Reader, buf []byte) (int, error) {
	old := []byte(storePrefix)
	count, carry := 0, 0
	for {
		n, err := io.ReadFull(r, buf[carry:])
		end := carry + n
		count += bytes.Count(buf[:end], old)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return count, nil
		}
		if err != nil {
			return count, err
		}
		// Keep a tail too short to hold a whole match, so none is
		// counted twice.
		keep := len(old) - 1
		copy(buf, buf[end-keep:end])
		carry = keep
	}
}
