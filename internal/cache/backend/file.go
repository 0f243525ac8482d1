package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// fileBackend is a cache in a local directory (file:///dir), the layout
// `nix copy --to file:///dir` writes.
type fileBackend struct{ root string }

func (b *fileBackend) path(key string) string { return filepath.Join(b.root, filepath.FromSlash(key)) }

func (b *fileBackend) Get(_ context.Context, key string) (io.ReadCloser, error) {
	f, err := os.Open(b.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(b.root); err != nil {
			return nil, Permanentf("cache directory %s is missing", b.root)
		}
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, Permanent(err)
	}
	// Opening a directory succeeds; reading it would fail with EISDIR,
	// which looks like an interrupted transfer and would be retried.
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, Permanentf("%s in the cache is not a regular file", key)
	}
	return f, nil
}

func (b *fileBackend) Exists(_ context.Context, key string) (bool, error) {
	_, err := os.Stat(b.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, Permanent(err)
}

// put writes a temporary file beside the target and renames it into place,
// so readers see the old object or the complete new one.
func (b *fileBackend) Put(_ context.Context, key string, body io.ReadSeeker, size int64, _ string) error {
	dst := b.path(key)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return Permanent(err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".tmp-"+filepath.Base(dst)+"-")
	if err != nil {
		return Permanent(err)
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, body)
	if err == nil && n != size {
		err = fmt.Errorf("wrote %d bytes, expected %d", n, size)
	}
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	return Permanent(err)
}

func (b *fileBackend) List(_ context.Context, fn func(key string) error) error {
	entries, err := os.ReadDir(b.root)
	if err != nil {
		return Permanent(err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			if err := fn(e.Name()); err != nil {
				return err
			}
		}
	}
	return nil
}
