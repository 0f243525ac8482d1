package relocate

import (
	"bytes"
	"io"
	"os"

	"github.com/nix-buildpack/nix-buildpack/internal/relocate/pyc"
)

// rewriter replaces storePrefix by a prefix of the same length in a
// stream. A match may span two reads: the last len(storePrefix)-1 bytes of
// each buffer are held back and scanned again with what follows.
type rewriter struct {
	old, new []byte
	buf      []byte
}

func newRewriter(p Prefix, bufSize int) *rewriter {
	return &rewriter{old: []byte(storePrefix), new: []byte(string(p) + "/"), buf: make([]byte, bufSize)}
}

// copy writes src to dst with every occurrence replaced and returns how
// many it replaced. Matches do not overlap and are found left to right,
// as bytes.ReplaceAll finds them.
func (rw *rewriter) copy(dst io.Writer, src io.Reader) (int, error) {
	keep := len(rw.old) - 1
	buf := rw.buf
	count, carry, skip := 0, 0, 0
	for {
		n, rerr := src.Read(buf[carry:])
		end := carry + n
		next := replaceFrom(buf[:end], skip, rw.old, rw.new, &count)
		if rerr == io.EOF {
			_, err := dst.Write(buf[:end])
			return count, err
		}
		if rerr != nil {
			return count, rerr
		}
		if end < len(buf) {
			// A short read: keep filling the buffer before writing.
			carry, skip = end, next
			continue
		}
		out := end - keep
		if _, err := dst.Write(buf[:out]); err != nil {
			return count, err
		}
		copy(buf, buf[out:end])
		carry = keep
		skip = max(0, next-out)
	}
}

// replaceFrom replaces old by new (same length) in b, scanning from index
// from, and returns the index after the last replacement (or from).
func replaceFrom(b []byte, from int, old, new []byte, count *int) int {
	for {
		i := bytes.Index(b[from:], old)
		if i < 0 {
			return from
		}
		copy(b[from+i:], new)
		*count++
		from += i + len(old)
	}
}

// rewriteBytes is the rewrite of a whole buffer, for symlink targets and
// sources whose hash must be recomputed.
func rewriteBytes(b []byte, p Prefix) []byte {
	return bytes.ReplaceAll(b, []byte(storePrefix), []byte(string(p)+"/"))
}

// fixPyc writes into out, the relocated copy of the .pyc at src, the hash
// of its relocated source, when src was a checked hash-based .pyc
// matching its source and relocation changed that source.
func fixPyc(out *os.File, src string, p Prefix) (bool, error) {
	header, source, ok := pyc.Read(src)
	if !ok {
		return false, nil
	}
	v := pyc.Variant(header, source)
	moved := rewriteBytes(source, p)
	if v < 0 || bytes.Equal(moved, source) {
		return false, nil
	}
	h := pyc.Hash(header, moved, v)
	_, err := out.WriteAt(h[:], pyc.HashOffset)
	return err == nil, err
}
