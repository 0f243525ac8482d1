package storedir

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"path/filepath"
	"sync/atomic"

	"github.com/nix-buildpack/nix-buildpack/internal/cache/backend"
	"github.com/nix-buildpack/nix-buildpack/internal/nar"
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
	"github.com/nix-buildpack/nix-buildpack/internal/tree"
)

// Unpack reads e's NAR file from body (counting its bytes into downloaded
// as they arrive) and unpacks it beside its final place in storeDir as
// .<name>.tmp-<random>, verifying NarSize and NarHash over the uncompressed
// stream. It returns the temporary path; on any error nothing is left
// behind. An interrupted transfer is worth retrying; a corrupt or
// mismatching NAR is a permanent error (backend.Permanent).
func Unpack(ctx context.Context, body io.Reader, e *narinfo.NarInfo, storeDir string, downloaded *atomic.Int64) (string, error) {
	in := &transferReader{r: body, total: downloaded}
	raw := boundRaw(in, e)

	dec, release, err := nar.Decompress(e.Compression, raw)
	if err != nil {
		downloaded.Add(-in.n)
		if in.err != nil {
			return "", fmt.Errorf("download of %s interrupted: %w", e.URL, in.err)
		}
		return "", backend.Permanent(err)
	}
	tap := narTap(e)
	tmpName := "." + filepath.Base(e.StorePath) + ".tmp-" + randomSuffix()
	tmp := filepath.Join(storeDir, tmpName)
	// A byte after the NAR's root node fails the parser, as in Nix, even
	// when NarSize and NarHash cover it.
	err = verdict(e, raw, tap, nar.Unpack(dec, storeDir, tmpName, tap), release)
	if err == nil && e.FileSize != 0 && uint64(in.n) != e.FileSize {
		err = backend.Permanentf("its NAR file is %d bytes, narinfo says FileSize %d", in.n, e.FileSize)
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
		return "", backend.Permanent(err)
	}
	return tmp, nil
}

// Check reads e's NAR file from body as Unpack does, with the same parser
// and checks (so it refuses exactly the NARs a restore would), writing
// nothing; it also checks FileHash. Errors are as Unpack's.
func Check(body io.Reader, e *narinfo.NarInfo, downloaded *atomic.Int64) error {
	in := &transferReader{r: body, total: downloaded}
	raw := boundRaw(in, e)
	fh := &hashingReader{r: raw, h: sha256.New()}
	dec, release, err := nar.Decompress(e.Compression, fh)
	if err == nil {
		tap := narTap(e)
		err = nar.Check(dec, tap)
		if err == nil {
			_, err = io.Copy(io.Discard, fh) // the file hash covers the whole file
		}
		err = verdict(e, raw, tap, err, release)
	}
	fileHash := narinfo.FormatSHA256(fh.h.Sum(nil))
	if err == nil && e.FileSize != 0 && uint64(fh.n) != e.FileSize {
		err = fmt.Errorf("its NAR file is %d bytes, narinfo says FileSize %d", fh.n, e.FileSize)
	}
	if err == nil && e.FileHash != "" && fileHash != e.FileHash {
		err = fmt.Errorf("its NAR file hashes to %s, narinfo says FileHash %s", fileHash, e.FileHash)
	}
	if err != nil {
		downloaded.Add(-in.n)
		if in.err != nil {
			return fmt.Errorf("download of %s interrupted: %w", e.URL, in.err)
		}
		return backend.Permanent(err)
	}
	return nil
}

// verdict is what reading e's NAR through raw and tap (the parser's error
// err) found: a bound crossed, a corrupt NAR, or else the size and hash
// checks (checkNAR), once the decompressor is released.
func verdict(e *narinfo.NarInfo, raw *nar.BoundedReader, tap *nar.Tap, err error, release func()) error {
	if over := cmp.Or(raw.Over(), tap.Over()); over != nil {
		return over
	}
	if err != nil {
		return fmt.Errorf("corrupt NAR %s: %w", e.URL, err)
	}
	release()
	return checkNAR(e, tap)
}

// boundRaw bounds the stored NAR file by the narinfo's FileSize, when given.
func boundRaw(r io.Reader, e *narinfo.NarInfo) *nar.BoundedReader {
	if e.FileSize == 0 {
		return nar.Bound(r, -1, nil)
	}
	return nar.Bound(r, int64(e.FileSize), backend.Permanentf(
		"its NAR file %s is larger than the FileSize %d of %s.narinfo; the cache entry is wrong or forged",
		e.URL, e.FileSize, narinfo.HashPart(e.StorePath)))
}

// narTap counts and hashes the unpacked NAR, refusing more than NarSize.
func narTap(e *narinfo.NarInfo) *nar.Tap {
	return nar.NewTap(int64(e.NarSize), backend.Permanentf(
		"its NAR %s unpacks to more than the NarSize %d of %s.narinfo; the cache entry is wrong or forged",
		e.URL, e.NarSize, narinfo.HashPart(e.StorePath)))
}

// checkNAR compares the unpacked stream's size and SHA-256 with the
// narinfo.
func checkNAR(e *narinfo.NarInfo, tap *nar.Tap) error {
	if uint64(tap.Size()) != e.NarSize {
		return backend.Permanentf("NAR size mismatch: narinfo says %d bytes, got %d", e.NarSize, tap.Size())
	}
	want, err := narinfo.HashDigest(e.NarHash)
	if err != nil {
		return backend.Permanent(err)
	}
	if got := tap.Sum(); !bytes.Equal(got, want) {
		return backend.Permanentf("NAR hash mismatch: narinfo says %s, got %s", e.NarHash, narinfo.FormatSHA256(got))
	}
	return nil
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
