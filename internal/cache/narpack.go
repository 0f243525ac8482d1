package cache

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/nix-community/go-nix/pkg/nar"
	"github.com/nix-community/go-nix/pkg/nixhash"
	"github.com/ulikunitz/xz"
)

// packedNAR is a store path serialised as a NAR and compressed, ready to
// upload, with the hashes a narinfo needs.
type packedNAR struct {
	body     io.ReadSeeker
	cleanup  func()
	fileHash string // sha256:<nixbase32> of the compressed file
	fileSize int64
	narHash  string // sha256:<nixbase32> of the NAR
	narSize  int64
}

var zstdEncs = sync.Pool{New: func() any {
	e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		panic(err) // only for invalid options
	}
	return e
}}

// inMemoryLimit is the NAR size up to which a packed NAR stays in memory
// instead of a temporary file.
const inMemoryLimit = 16 << 20

// packNAR dumps the tree at dir (a store path's on-disk location) as a NAR,
// hashing it, and compresses it into memory or a temporary file.
func packNAR(dir string, narSizeHint uint64, compression string) (*packedNAR, error) {
	var sink io.Writer
	var file *os.File
	var mem bytes.Buffer
	if narSizeHint > inMemoryLimit {
		f, err := os.CreateTemp("", "nixbp-nar-*")
		if err != nil {
			return nil, fmt.Errorf("unable to create a temporary file for a NAR\n%w", err)
		}
		file, sink = f, f
	} else {
		sink = &mem
	}
	cleanup := func() {
		if file != nil {
			file.Close()
			os.Remove(file.Name())
		}
	}
	fileHash := &hashingWriter{w: sink, h: sha256.New()}
	var comp io.WriteCloser
	switch compression {
	case "zstd":
		e := zstdEncs.Get().(*zstd.Encoder)
		e.Reset(fileHash)
		comp = e
		defer zstdEncs.Put(e)
	case "xz":
		x, err := xz.NewWriter(fileHash)
		if err != nil {
			cleanup()
			return nil, err
		}
		comp = x
	default:
		comp = nopWriteCloser{fileHash}
	}
	narHash := &hashingWriter{w: comp, h: sha256.New()}
	bw := bufio.NewWriterSize(narHash, 1<<20)
	err := nar.DumpPath(bw, dir)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := comp.Close(); err == nil {
		err = cerr
	}
	if err == nil && file != nil {
		_, err = file.Seek(0, io.SeekStart)
	}
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("unable to serialise %s as a NAR\n%w", dir, err)
	}
	p := &packedNAR{cleanup: cleanup,
		fileHash: formatSHA256(fileHash.h), fileSize: fileHash.n,
		narHash: formatSHA256(narHash.h), narSize: narHash.n}
	if file != nil {
		p.body = file
	} else {
		p.body = bytes.NewReader(mem.Bytes())
	}
	return p, nil
}

func formatSHA256(h hash.Hash) string {
	return nixhash.MustNewHashWithEncoding(nixhash.SHA256, h.Sum(nil), nixhash.NixBase32, true).String()
}

// narFileName is the cache key Nix gives a NAR: nar/<file hash>.nar<ext>.
func narFileName(fileHash, compression string) string {
	name := "nar/" + fileHash[len("sha256:"):] + ".nar"
	switch compression {
	case "zstd":
		return name + ".zst"
	case "xz":
		return name + ".xz"
	case "bzip2":
		return name + ".bz2"
	}
	return name
}

type hashingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (h *hashingWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
