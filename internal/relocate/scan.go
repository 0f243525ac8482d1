package relocate

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// form is an encoding of the store directory that the byte rewrite of
// "/nix/store/" leaves alone.
type form struct {
	name    string
	pattern []byte
}

func utf16(s string, bigEndian bool) []byte {
	var b []byte
	for _, c := range []byte(s) {
		if bigEndian {
			b = append(b, 0, c)
		} else {
			b = append(b, c, 0)
		}
	}
	return b
}

// forms are searched in every relocated file (and every decompressed
// stream): after the rewrite, any of them still points into /nix.
var forms = []form{
	{"the store directory " + StoreDir + " (without a trailing slash, or not rewritten)", []byte(StoreDir)},
	{`a JSON-escaped store path (\/nix\/store)`, []byte(`\/nix\/store`)},
	{"a URL-encoded store path (%2Fnix%2Fstore)", []byte("%2Fnix%2Fstore")},
	{"a URL-encoded store path (%2fnix%2fstore)", []byte("%2fnix%2fstore")},
	{"a UTF-16LE store path", utf16(StoreDir, false)},
	{"a UTF-16BE store path", utf16(StoreDir, true)},
}

const formOverlap = 2*len(StoreDir) - 1

// maxInflated bounds how much of one compressed stream is searched.
const maxInflated = 1 << 30

// scanForms returns the first form found in r and its offset, or "".
func scanForms(r io.Reader, buf []byte) (string, int64, error) {
	var base int64 // offset of buf[0] in the stream
	carry := 0
	for {
		n, err := io.ReadFull(r, buf[carry:])
		end := carry + n
		best, at := "", -1
		for _, f := range forms {
			if i := bytes.Index(buf[:end], f.pattern); i >= 0 && (at < 0 || i < at) {
				best, at = f.name, i
			}
		}
		if at >= 0 {
			return best, base + int64(at), nil
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return "", 0, nil
		}
		if err != nil {
			return "", 0, err
		}
		keep := min(formOverlap, end)
		copy(buf, buf[end-keep:end])
		base += int64(end - keep)
		carry = keep
	}
}

// openStream returns a decompressing reader for data in a format the
// check inspects, by magic number, with the format's name.
func openStream(head []byte, r io.Reader) (io.Reader, string, error) {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(r)
		return zr, "gzip", err
	case bytes.HasPrefix(head, []byte("BZh")) && len(head) > 3 && head[3] >= '1' && head[3] <= '9':
		return bzip2.NewReader(r), "bzip2", nil
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		xr, err := xz.NewReader(r)
		return xr, "xz", err
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, "zstd", err
		}
		return zr.IOReadCloser(), "zstd", nil
	}
	return nil, "", nil
}

// compressed searches compressed files and zip archives for store paths
// the rewrite could not reach, and reports compressed data the rewrite
// corrupted (a stored block whose bytes changed under its checksum).
func (fc *fileCheck) compressed(rel, path string, head []byte) {
	if isZip(path, head) {
		fc.zip(rel, path)
		return
	}
	form, kind, err := inflateScan(path, head, fc.buf)
	if kind == "" {
		return
	}
	if err != nil {
		if _, _, oerr := inflateScan(filepath.Join(fc.orig, rel), head, fc.buf); oerr == nil {
			fc.report(rel, "%s data no longer decompresses after the rewrite: %v", kind, err)
		}
		return
	}
	if form != "" {
		fc.report(rel, "%s inside %s-compressed data: the rewrite cannot reach it", form, kind)
	}
}

// inflateScan decompresses the file at path and searches it for forms.
func inflateScan(path string, head []byte, buf []byte) (string, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	r, kind, err := openStream(head, f)
	if kind == "" || err != nil {
		return "", kind, err
	}
	if c, ok := r.(io.Closer); ok {
		defer c.Close()
	}
	form, _, err := scanForms(io.LimitReader(r, maxInflated), buf)
	if err == nil && form == "" {
		// Read to the end, so that the format's checksum is verified.
		_, err = io.CopyBuffer(io.Discard, r, buf)
	}
	return form, kind, err
}
