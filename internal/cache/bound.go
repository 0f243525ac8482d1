package cache

import (
	"hash"
	"io"
)

// boundedReader passes through at most limit bytes of r and fails as soon
// as r holds more, so a NAR larger than its narinfo says stops before it
// fills the disk, not after.
type boundedReader struct {
	r    io.Reader
	left int64
	// overErr is the error for a stream longer than the limit; over is set
	// to it once that happened.
	overErr, over error
}

// boundRaw bounds the stored NAR file by the narinfo's FileSize, when given.
func boundRaw(r io.Reader, e *Entry) *boundedReader {
	if e.FileSize == 0 {
		return &boundedReader{r: r, left: -1}
	}
	return &boundedReader{r: r, left: int64(e.FileSize), overErr: permanentf(
		"its NAR file %s is larger than the FileSize %d of %s.narinfo; the cache entry is wrong or forged",
		e.URL, e.FileSize, hashPart(e.StorePath))}
}

// unpackedTooLarge is the error for a NAR that unpacks to more than its
// narinfo's NarSize.
func unpackedTooLarge(e *Entry) error {
	return permanentf("its NAR %s unpacks to more than the NarSize %d of %s.narinfo; the cache entry is wrong or forged",
		e.URL, e.NarSize, hashPart(e.StorePath))
}

// narTap sees every byte of an unpacked NAR before it is parsed: it counts
// and hashes them, and refuses them as soon as there are more than left.
type narTap struct {
	h    hash.Hash
	n    int64
	left int64
	// overErr is the error for a NAR longer than left; over is set to it
	// once that happened.
	overErr, over error
}

func (t *narTap) take(b []byte) error {
	if int64(len(b)) > t.left {
		t.over = t.overErr
		return t.over
	}
	t.left -= int64(len(b))
	t.n += int64(len(b))
	t.h.Write(b)
	return nil
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.over != nil {
		return 0, b.over
	}
	if b.left < 0 { // no limit
		return b.r.Read(p)
	}
	if b.left == 0 {
		// At the limit: only the end of the stream may follow.
		var one [1]byte
		for range 100 {
			n, err := b.r.Read(one[:])
			if n > 0 {
				b.over = b.overErr
				return 0, b.over
			}
			if err != nil {
				return 0, err
			}
		}
		return 0, io.ErrNoProgress
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}
