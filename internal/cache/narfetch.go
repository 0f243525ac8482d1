package cache

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/bzip2"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path/filepath"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
	"github.com/nix-buildpack/nix-buildpack/internal/tree"
	"github.com/nix-community/go-nix/pkg/nixhash"
	"github.com/ulikunitz/xz"
)

// Decoders and buffers are kept in free lists rather than
// sync.Pools: a zstd decoder allocates megabytes of history and block
// buffers, and a Pool drops its items at every other garbage collection.
var (
	copyBufs = newFreeList(func() []byte { return make([]byte, 1<<20) })
	zstdDecs = newFreeList(func() *zstd.Decoder {
		// The NAR hash is checked anyway, so zstd's own checksum would
		// only cost time.
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.IgnoreChecksum(true),
			zstd.WithDecoderMaxMemory(1<<34))
		if err != nil {
			panic(err) // only for invalid options
		}
		return d
	})
)

// freeList keeps up to 32 reusable items.
type freeList[T any] struct {
	items   chan T
	newItem func() T
}

func newFreeList[T any](newItem func() T) *freeList[T] {
	return &freeList[T]{items: make(chan T, 32), newItem: newItem}
}

func (l *freeList[T]) get() T {
	select {
	case x := <-l.items:
		return x
	default:
		return l.newItem()
	}
}

func (l *freeList[T]) put(x T) {
	select {
	case l.items <- x:
	default:
	}
}

// fetchNAR downloads e's NAR once and unpacks it beside its final place in
// storeDir as .<name>.tmp-<random>, verifying NarSize and NarHash over the
// uncompressed stream. It returns the temporary path; on any error nothing
// is left behind. An interrupted transfer is worth retrying; a corrupt or
// mismatching NAR is a permanentError.
func fetchNAR(ctx context.Context, b backend, e *Entry, storeDir string, downloaded *atomic.Int64) (string, error) {
	body, err := b.get(ctx, e.URL)
	if errors.Is(err, errNotFound) {
		return "", permanentf("its NAR %s is missing from the cache", e.URL)
	}
	if err != nil {
		return "", err
	}
	defer body.Close()
	in := &transferReader{r: body, total: downloaded}
	raw := boundRaw(in, e)

	dec, release, err := decompress(e.Compression, raw)
	if err != nil {
		downloaded.Add(-in.n)
		if in.err != nil {
			return "", fmt.Errorf("download of %s interrupted: %w", e.URL, in.err)
		}
		return "", permanent(err)
	}
	tap := &narTap{h: sha256.New(), left: int64(e.NarSize), overErr: unpackedTooLarge(e)}
	buf := copyBufs.get()
	defer copyBufs.put(buf)

	tmpName := "." + filepath.Base(e.StorePath) + ".tmp-" + randomSuffix()
	tmp := filepath.Join(storeDir, tmpName)
	// A zstd decoder writes its blocks to the parser itself: no copy. A
	// byte after the NAR's root node fails the parser, as in Nix, even
	// when NarSize and NarHash cover it.
	err = unpackNARTapped(dec, storeDir, tmpName, buf, tap)
	if over := cmp.Or(raw.over, tap.over); over != nil {
		err = over
	} else if err != nil {
		err = fmt.Errorf("corrupt NAR %s: %w", e.URL, err)
	} else {
		release()
		err = checkNAR(e, tap.n, tap.h)
		if err == nil && e.FileSize != 0 && uint64(in.n) != e.FileSize {
			err = permanentf("its NAR file is %d bytes, narinfo says FileSize %d", in.n, e.FileSize)
		}
	}
	if err != nil {
		_ = tree.Remove(tmp)
		downloaded.Add(-in.n) // a retry counts its own bytes
		if in.err != nil {
			return "", fmt.Errorf("download of %s interrupted after %d bytes: %w", e.URL, in.n, in.err)
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", permanent(err)
	}
	return tmp, nil
}

// checkNAR compares the unpacked stream's size n and SHA-256 h with the
// narinfo.
func checkNAR(e *Entry, n int64, h hash.Hash) error {
	if uint64(n) != e.NarSize {
		return permanentf("NAR size mismatch: narinfo says %d bytes, got %d", e.NarSize, n)
	}
	want, err := narHashDigest(e.NarHash)
	if err != nil {
		return permanent(err)
	}
	if got := h.Sum(nil); !bytes.Equal(got, want) {
		return permanentf("NAR hash mismatch: narinfo says %s, got %s", e.NarHash,
			nixhash.MustNewHashWithEncoding(nixhash.SHA256, got, nixhash.NixBase32, true))
	}
	return nil
}

// decompress returns a reader of the NAR inside a stored file, and a
// function that recycles the decoder once it read to the end cleanly.
func decompress(compression string, r io.Reader) (io.Reader, func(), error) {
	switch compression {
	case "zstd":
		d := zstdDecs.get()
		if err := d.Reset(r); err != nil {
			return nil, nil, fmt.Errorf("unable to start zstd decompression: %w", err)
		}
		return d, func() { _ = d.Reset(nil); zstdDecs.put(d) }, nil
	case "xz":
		x, err := xz.NewReader(bufio.NewReaderSize(r, 256<<10))
		if err != nil {
			return nil, nil, fmt.Errorf("invalid xz stream: %w", err)
		}
		return x, func() {}, nil
	case "bzip2":
		return bzip2.NewReader(bufio.NewReaderSize(r, 256<<10)), func() {}, nil
	case "none", "":
		return r, func() {}, nil
	default:
		return nil, nil, fmt.Errorf("unsupported compression %q", compression)
	}
}

// transferReader counts bytes as they arrive and remembers a transport
// failure, which tells an interrupted download from a corrupt file.
type transferReader struct {
	r     io.Reader
	n     int64
	total *atomic.Int64
	err   error
}

func (t *transferReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.n += int64(n)
	t.total.Add(int64(n))
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}

// hashingReader hashes and counts what is read through it.
type hashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
