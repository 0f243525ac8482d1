package nar

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/nix-community/go-nix/pkg/nar"
)

// Packed is a tree serialised as a NAR and compressed, ready to upload,
// with the sizes and SHA-256 digests a narinfo needs.
type Packed struct {
	// Body is the compressed NAR; Close releases it.
	Body io.ReadSeeker
	// FileSHA256 and FileSize describe the compressed file.
	FileSHA256 []byte
	FileSize   int64
	// NarSHA256 and NarSize describe the NAR itself.
	NarSHA256 []byte
	NarSize   int64

	file *os.File
}

// Close removes the temporary file holding a large NAR.
func (p *Packed) Close() {
	if p.file != nil {
		p.file.Close()
		os.Remove(p.file.Name())
	}
}

// inMemoryLimit is the NAR size up to which a packed NAR stays in memory
// instead of a temporary file.
const inMemoryLimit = 16 << 20

// Pack dumps the tree at dir (a store path's on-disk location) as a NAR,
// hashing it, and compresses it (zstd, xz or none) into memory or, above
// 16 MiB (sizeHint, the expected NAR size), a temporary file.
func Pack(dir string, sizeHint uint64, compression string) (*Packed, error) {
	p := &Packed{}
	var sink io.Writer
	var mem bytes.Buffer
	if sizeHint > inMemoryLimit {
		f, err := os.CreateTemp("", "nixbp-nar-*")
		if err != nil {
			return nil, fmt.Errorf("unable to create a temporary file for a NAR\n%w", err)
		}
		p.file, sink = f, f
	} else {
		sink = &mem
	}
	fileHash := &hashingWriter{w: sink, h: sha256.New()}
	comp, release, err := compressor(compression, fileHash)
	if err != nil {
		p.Close()
		return nil, err
	}
	defer release()
	narHash := &hashingWriter{w: comp, h: sha256.New()}
	bw := bufio.NewWriterSize(narHash, 1<<20)
	err = nar.DumpPath(bw, dir)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := comp.Close(); err == nil {
		err = cerr
	}
	if err == nil && p.file != nil {
		_, err = p.file.Seek(0, io.SeekStart)
	}
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("unable to serialise %s as a NAR\n%w", dir, err)
	}
	p.FileSHA256, p.FileSize = fileHash.h.Sum(nil), fileHash.n
	p.NarSHA256, p.NarSize = narHash.h.Sum(nil), narHash.n
	if p.file != nil {
		p.Body = p.file
	} else {
		p.Body = bytes.NewReader(mem.Bytes())
	}
	return p, nil
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
