package nar

import (
	"bufio"
	"compress/bzip2"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
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
	zstdEncs = sync.Pool{New: func() any {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			panic(err) // only for invalid options
		}
		return e
	}}
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

// Decompress returns a reader of the NAR inside a stored file compressed
// as a narinfo's Compression says (zstd, xz, bzip2, none, or an image
// layer: LayerCompression), and a function
// that recycles the decoder once it read to the end cleanly.
func Decompress(compression string, r io.Reader) (io.Reader, func(), error) {
	switch compression {
	case "zstd":
		d := zstdDecs.get()
		if err := d.Reset(r); err != nil {
			return nil, nil, fmt.Errorf("unable to start zstd decompression\n%w", err)
		}
		return d, func() { _ = d.Reset(nil); zstdDecs.put(d) }, nil
	case "xz":
		x, err := xz.NewReader(bufio.NewReaderSize(r, 256<<10))
		if err != nil {
			return nil, nil, fmt.Errorf("invalid xz stream\n%w", err)
		}
		return x, func() {}, nil
	case "bzip2":
		return bzip2.NewReader(bufio.NewReaderSize(r, 256<<10)), func() {}, nil
	case "none", "":
		return r, func() {}, nil
	case LayerCompression:
		l, err := newLayerNAR(r)
		if err != nil {
			return nil, nil, err
		}
		return l, func() {}, nil
	default:
		return nil, nil, fmt.Errorf("unsupported compression %q", compression)
	}
}

// compressor returns a writer compressing into w as compression says
// (zstd, xz, none), and a function that recycles it after Close.
func compressor(compression string, w io.Writer) (io.WriteCloser, func(), error) {
	switch compression {
	case "zstd":
		e := zstdEncs.Get().(*zstd.Encoder)
		e.Reset(w)
		return e, func() { zstdEncs.Put(e) }, nil
	case "xz":
		x, err := xz.NewWriter(w)
		if err != nil {
			return nil, nil, fmt.Errorf("unable to start xz compression\n%w", err)
		}
		return x, func() {}, nil
	case "none", "":
		return nopWriteCloser{w}, func() {}, nil
	default:
		return nil, nil, fmt.Errorf("unsupported compression %q", compression)
	}
}

// Extension is the file name extension Nix gives a NAR compressed so:
// .nar.zst, .nar.xz, .nar.bz2 or .nar; an image layer's is .tar.gz.
func Extension(compression string) string {
	switch compression {
	case "zstd":
		return ".nar.zst"
	case "xz":
		return ".nar.xz"
	case "bzip2":
		return ".nar.bz2"
	case LayerCompression:
		return ".tar.gz"
	}
	return ".nar"
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
