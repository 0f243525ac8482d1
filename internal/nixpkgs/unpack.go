package nixpkgs

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	gonar "github.com/nix-community/go-nix/pkg/nar"
	"github.com/xi2/xz"
	"golang.org/x/sys/unix"

	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
	"github.com/nix-buildpack/nix-buildpack/internal/tree"
)

// unpacked is a tarball's single top directory, unpacked under the store
// directory as a hidden temporary tree, with its NAR hash and the store
// path Nix gives it.
type unpacked struct {
	tmp  string // the temporary tree holding the top directory
	root string // the top directory, inside tmp
	info narinfo.PathInfo
}

// unpack reads a tarball (xz, gzip, bzip2, zstd or plain, by its magic
// bytes) into a temporary tree in storeDir, as Nix unpacks a <nixpkgs>
// tarball: one top-level directory, whose contents become the store path
// "source" (the name Nix's fetchers give NIX_PATH tarballs), read-only,
// mtime 1, executable where the owner could execute. Hard links become
// copies' links inside the tree; devices, FIFOs and names leaving the tree
// are refused.
func unpack(r io.Reader, storeDir string) (*unpacked, error) {
	dec, err := decompress(r)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(storeDir, ".nixpkgs.tmp-")
	if err != nil {
		return nil, fmt.Errorf("unable to create a temporary directory in %s\n%w", storeDir, err)
	}
	u := &unpacked{tmp: tmp}
	if err := u.extract(tar.NewReader(dec)); err != nil {
		_ = tree.Remove(tmp)
		return nil, err
	}
	if err := u.seal(); err != nil {
		_ = tree.Remove(tmp)
		return nil, err
	}
	h := sha256.New()
	cw := &countingWriter{w: h}
	bw := bufio.NewWriterSize(cw, 1<<20)
	err = gonar.DumpPath(bw, u.root)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		_ = tree.Remove(tmp)
		return nil, fmt.Errorf("unable to hash the unpacked tarball\n%w", err)
	}
	digest := h.Sum(nil)
	sp := narinfo.SourcePath(digest, "source", nil, "")
	narHash := narinfo.FormatSHA256(digest)
	u.info = narinfo.PathInfo{StorePath: sp, NarHash: narHash, NarSize: uint64(cw.n), CA: "fixed:r:" + narHash}
	return u, nil
}

// decompress picks the decompressor by the stream's first bytes.
func decompress(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return xz.NewReader(br, 0)
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return gzip.NewReader(br)
	case bytes.HasPrefix(magic, []byte("BZh")):
		return bzip2.NewReader(br), nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		d, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return br, nil // a plain tar; the tar reader says if it is not one
}

// extract writes the tar's entries under u.tmp and finds the single top
// directory.
func (u *unpacked) extract(tr *tar.Reader) error {
	tops, links := map[string]bool{}, map[string]bool{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("unable to read the tarball\n%w", err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader { // GitHub's archives start with one
			continue
		}
		name, err := clean(hdr.Name)
		if err != nil {
			return err
		}
		if name == "" {
			continue
		}
		if throughLink(links, name) {
			return fmt.Errorf("the tarball's entry %q is under a symbolic link it made", hdr.Name)
		}
		tops[strings.SplitN(name, "/", 2)[0]] = true
		target := filepath.Join(u.tmp, name)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.Mkdir(target, 0o755); err != nil && !os.IsExist(err) {
				return err
			}
		case tar.TypeReg:
			if err := writeFile(target, tr, hdr.Mode&0o100 != 0); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				return fmt.Errorf("unable to create the link %s\n%w", name, err)
			}
			links[name] = true
		case tar.TypeLink:
			src, err := clean(hdr.Linkname)
			if err != nil || throughLink(links, src) || links[src] {
				return fmt.Errorf("the tarball's hard link %q points outside the tree or at a symbolic link", hdr.Name)
			}
			if err := os.Link(filepath.Join(u.tmp, src), target); err != nil {
				return fmt.Errorf("unable to create the hard link %s\n%w", name, err)
			}
		default:
			return fmt.Errorf("the tarball holds %s of type %q, which a store path cannot", name, hdr.Typeflag)
		}
	}
	if len(tops) != 1 {
		return fmt.Errorf("the tarball has %d top-level entries; Nix wants exactly one directory", len(tops))
	}
	for top := range tops {
		u.root = filepath.Join(u.tmp, top)
	}
	if fi, err := os.Lstat(u.root); err != nil || !fi.IsDir() {
		return fmt.Errorf("the tarball's single top-level entry is not a directory")
	}
	return nil
}

// clean is a tar entry's name relative to the tree, "" for the tree
// itself; a name with a ".." component is an error.
func clean(name string) (string, error) {
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("the tarball's entry %q leaves the tree", name)
		}
	}
	return strings.TrimPrefix(path.Clean("/"+name), "/"), nil
}

// throughLink reports whether a parent of name is a symlink the tarball
// made: writing there would follow it out of the tree.
func throughLink(links map[string]bool, name string) bool {
	for i := strings.IndexByte(name, '/'); i >= 0; i = nextSlash(name, i) {
		if links[name[:i]] {
			return true
		}
	}
	return false
}

func nextSlash(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '/')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

func lchtimes(p string, t time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func writeFile(p string, r io.Reader, executable bool) error {
	mode := os.FileMode(0o444)
	if executable {
		mode = 0o555
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return fmt.Errorf("unable to create %s\n%w", p, err)
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("unable to write %s\n%w", p, err)
	}
	return nil
}

// seal gives the tree under the top directory the store's metadata: mtime
// 1 everywhere, directories read-only (deepest first). The top directory
// itself is sealed by sealTop once in the store: renaming a directory into
// another parent rewrites its "..", which needs write permission on it
// unless the caller is root.
func (u *unpacked) seal() error {
	epoch := time.Unix(1, 0)
	var dirs []string
	err := filepath.WalkDir(u.root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		return lchtimes(p, epoch)
	})
	if err != nil {
		return fmt.Errorf("unable to set the unpacked tree's times\n%w", err)
	}
	for i := len(dirs) - 1; i >= 1; i-- { // dirs[0] is the top directory
		if err := os.Chmod(dirs[i], 0o555); err != nil {
			return err
		}
		if err := os.Chtimes(dirs[i], epoch, epoch); err != nil {
			return err
		}
	}
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// sealTop makes the top directory, moved to p, read-only with mtime 1.
func sealTop(p string) error {
	epoch := time.Unix(1, 0)
	if err := os.Chmod(p, 0o555); err != nil {
		return err
	}
	return os.Chtimes(p, epoch, epoch)
}
