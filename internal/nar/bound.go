package nar

import (
	"crypto/sha256"
	"hash"
	"io"
)

// Tap sees every byte of a NAR before it is parsed: it counts and hashes
// them (SHA-256, Nix's NAR hash), and refuses them as soon as there are more
// than its limit, so a NAR larger than its narinfo says stops before it
// fills the disk, not after.
type Tap struct {
	h    hash.Hash
	n    int64
	left int64
	// overErr is the error for a NAR longer than the limit; over is set to
	// it once that happened.
	overErr, over error
}

// NewTap returns a tap that lets at most limit bytes through and then
// fails with overErr.
func NewTap(limit int64, overErr error) *Tap {
	return &Tap{h: sha256.New(), left: limit, overErr: overErr}
}

func (t *Tap) take(b []byte) error {
	if int64(len(b)) > t.left {
		t.over = t.overErr
		return t.over
	}
	t.left -= int64(len(b))
	t.n += int64(len(b))
	t.h.Write(b)
	return nil
}

// Size is the number of bytes seen.
func (t *Tap) Size() int64 { return t.n }

// Sum is the SHA-256 digest of the bytes seen.
func (t *Tap) Sum() []byte { return t.h.Sum(nil) }

// Over is the tap's overErr once more bytes than its limit came, else nil.
func (t *Tap) Over() error { return t.over }

// BoundedReader passes through at most a limit of bytes and fails as soon as
// its reader holds more: a stored NAR file larger than its narinfo's
// FileSize stops at that size.
type BoundedReader struct {
	r    io.Reader
	left int64
	// overErr is the error for a stream longer than the limit; over is set
	// to it once that happened.
	overErr, over error
}

// Bound returns a reader of r that fails with overErr after limit bytes,
// unless r ends there; a negative limit is no limit.
func Bound(r io.Reader, limit int64, overErr error) *BoundedReader {
	return &BoundedReader{r: r, left: limit, overErr: overErr}
}

// Over is the reader's overErr once the stream turned out longer than its
// limit, else nil.
func (b *BoundedReader) Over() error { return b.over }

// Read reads from the underlying reader up to the limit.
func (b *BoundedReader) Read(p []byte) (int, error) {
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
