package check

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// maxDepth is how many archives and compressed streams nested in each
// other are opened (a jar in a war in a tar.gz is 4).
const maxDepth = 4

// maxBuffered bounds a zip archive held in memory to be read: one nested
// in another archive or in compressed data.
const maxBuffered = 256 << 20

// maxInflated bounds how much of one stream is searched.
const maxInflated = 1 << 30

// inner looks where the byte rewrite cannot reach, or must not change
// bytes: inside compressed data and archive members, nested up to
// maxDepth. What it cannot open is recorded, not ignored.
type inner struct {
	buf     []byte
	found   []string // "<form> inside <where>"
	skipped []string // "<where>: why it was not inspected"
}

// within names data found inside where ("" for a file of the closure).
func within(what, where string) string {
	if where == "" {
		return what
	}
	return what + " in " + where
}

func (in *inner) skip(where, why string) {
	if where != "" {
		why = where + ": " + why
	}
	in.skipped = append(in.skipped, why)
}

// recognize names the container or compression of data whose first bytes
// are head, for a file or member called name: "" for plain data. Formats
// without a magic number (brotli, raw deflate, lzma) go by the name's
// extension (or, for lzma, its usual header).
func recognize(name string, head []byte) string {
	ext := strings.ToLower(path.Ext(name))
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return "zip"
	case len(head) >= 262 && string(head[257:262]) == "ustar":
		return "tar"
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return "gzip"
	case bytes.HasPrefix(head, []byte("BZh")) && len(head) > 3 && head[3] >= '1' && head[3] <= '9':
		return "bzip2"
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return "xz"
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd"
	case bytes.HasPrefix(head, []byte{0x04, 0x22, 0x4d, 0x18}), bytes.HasPrefix(head, []byte{0x02, 0x21, 0x4c, 0x18}):
		return "lz4"
	case ext == ".lzma" || isLZMA(head):
		return "lzma"
	case ext == ".br":
		return "brotli"
	case ext == ".deflate":
		return "deflate"
	case isZlib(head):
		return "zlib"
	case bytes.HasPrefix(head, []byte{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c}):
		return "7z"
	case bytes.HasPrefix(head, []byte("Rar!\x1a\x07")):
		return "rar"
	case bytes.HasPrefix(head, []byte{0x1f, 0x9d}):
		return "compress (.Z)"
	case bytes.HasPrefix(head, []byte("LZIP")):
		return "lzip"
	}
	return ""
}

// isZlib reports a zlib header (RFC 1950: deflate, a valid check, no
// preset dictionary) whose first bytes inflate: two bytes alone match one
// file in about 500.
func isZlib(head []byte) bool {
	if len(head) < 3 || head[0]&0x0f != 8 || head[0]>>4 > 7 || head[1]&0x20 != 0 || (uint16(head[0])<<8|uint16(head[1]))%31 != 0 {
		return false
	}
	zr, err := zlib.NewReader(bytes.NewReader(head))
	if err != nil {
		return false
	}
	_, err = zr.Read(make([]byte, 64))
	return err == nil || err == io.EOF || err == io.ErrUnexpectedEOF
}

// isLZMA reports the header xz-utils' lzma writes (.lzma, "LZMA alone"):
// the default properties, a dictionary of 64 KiB to 1.5 GiB, and an
// uncompressed size that is unknown (all ones) or below 1 TiB.
func isLZMA(head []byte) bool {
	if len(head) < 13 || head[0] != 0x5d {
		return false
	}
	dict := uint32(head[1]) | uint32(head[2])<<8 | uint32(head[3])<<16 | uint32(head[4])<<24
	size := head[5:13]
	unknown := bytes.Equal(size, bytes.Repeat([]byte{0xff}, 8))
	return dict >= 1<<16 && dict <= 3<<29 && (unknown || size[5] == 0 && size[6] == 0 && size[7] == 0)
}

// unopened are the formats recognized but not read.
var unopened = map[string]bool{"7z": true, "rar": true, "compress (.Z)": true, "lzip": true}

// decompress returns a reader of the data a compressed stream holds.
func decompress(kind string, r io.Reader) (io.Reader, error) {
	switch kind {
	case "gzip":
		return gzip.NewReader(r)
	case "bzip2":
		return bzip2.NewReader(r), nil
	case "xz":
		return xz.NewReader(r)
	case "zstd":
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return zr.IOReadCloser(), nil
	case "lz4":
		return lz4.NewReader(r), nil
	case "lzma":
		return lzma.NewReader(r)
	case "brotli":
		return brotli.NewReader(r), nil
	case "deflate":
		return flate.NewReader(r), nil
	case "zlib":
		return zlib.NewReader(r)
	}
	return nil, fmt.Errorf("no decompressor for %s", kind)
}

// look reads r, the data of name (a file or member, named for its
// extension) found at where. It opens what recognize names and searches
// the rest for forms of the store directory when plain is set (the plain
// bytes of a file of the closure are searched by its caller; inside
// anything opened, every byte is out of the rewrite's reach). It returns
// what failed to read: a checksum or header that no longer verifies.
func (in *inner) look(r io.Reader, name, where string, depth int, plain bool) error {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(512)
	kind := recognize(name, head)
	switch {
	case kind == "":
		if !plain {
			return drain(br, in.buf)
		}
		lr := &io.LimitedReader{R: br, N: maxInflated}
		form, _, err := scanForms(lr, in.buf)
		if err == nil && form == "" && lr.N > 0 {
			return nil // scanForms read to the end
		}
		if form != "" {
			in.found = append(in.found, form+" inside "+where)
		}
		if err == nil && lr.N == 0 {
			in.skip(where, fmt.Sprintf("only its first %d MiB were searched", maxInflated>>20))
		}
		if err == nil {
			err = drain(br, in.buf) // so that an outer checksum is verified
		}
		return err
	case unopened[kind]:
		in.skip(within(kind+" data", where), "not inspected: the check cannot open this format")
		return nil
	case depth >= maxDepth:
		in.skip(within(kind+" data", where), fmt.Sprintf("nested %d deep: not opened (the check opens %d levels)", depth+1, maxDepth))
		return nil
	case kind == "tar":
		return in.tar(br, where, depth, plain)
	case kind == "zip":
		return in.zipStream(br, where, depth)
	}
	dec, err := decompress(kind, br)
	if err != nil {
		return err
	}
	if c, ok := dec.(io.Closer); ok {
		defer c.Close()
	}
	held := strings.TrimSuffix(name, path.Ext(name)) // x.tar.gz holds x.tar
	return in.look(dec, held, within(kind+"-compressed data", where), depth+1, true)
}

// tar looks at every member of a tar archive; a header that no longer
// verifies (its checksum covers names and link targets) is an error
// naming the member before it.
func (in *inner) tar(r io.Reader, where string, depth int, plain bool) error {
	tr := tar.NewReader(r)
	last := "(the first)"
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tar header after member %s: %w", last, err)
		}
		last = h.Name
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if err := in.look(tr, h.Name, within("tar member "+h.Name, where), depth+1, plain); err != nil {
			return fmt.Errorf("tar member %s: %w", h.Name, err)
		}
	}
}

// zipStream reads a zip archive found inside another archive or inside
// compressed data: zip needs random access, so it is held in memory.
func (in *inner) zipStream(r io.Reader, where string, depth int) error {
	data, err := io.ReadAll(io.LimitReader(r, maxBuffered+1))
	if err != nil {
		return err
	}
	if len(data) > maxBuffered {
		in.skip(within("zip archive", where), fmt.Sprintf("larger than %d MiB inside another archive: not opened", maxBuffered>>20))
		return drain(r, in.buf)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("zip: %w", err)
	}
	for _, m := range zr.File {
		if err := in.member(m, where, depth); err != nil {
			return fmt.Errorf("zip member %s: %w", m.Name, err)
		}
	}
	return nil
}

// member looks at one zip member; one the zip reader cannot open (an
// unknown compression method, encryption) is recorded as not inspected.
func (in *inner) member(m *zip.File, where string, depth int) error {
	if m.FileInfo().IsDir() {
		return nil
	}
	at := within("zip member "+m.Name, where)
	if m.Flags&0x1 != 0 {
		in.skip(at, "encrypted: not inspected")
		return nil
	}
	rc, err := m.Open()
	if err == zip.ErrAlgorithm {
		in.skip(at, fmt.Sprintf("compression method %d: not inspected", m.Method))
		return nil
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	return in.look(rc, m.Name, at, depth+1, true)
}

// drain reads r to its end, so that the formats around it verify their
// checksums.
// (Plain Read calls: a decoder's WriteTo may end with io.EOF as an error.)
func drain(r io.Reader, buf []byte) error {
	_, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{r}, buf)
	return err
}
