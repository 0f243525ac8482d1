package nar

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/nix-community/go-nix/pkg/nar"
)

// storePathName is a store path's base name: 32 nixbase32 characters, a
// dash, a name.
var storePathName = regexp.MustCompile(`^[0-9a-df-np-sv-z]{32}-[^/]+$`)

// maxLayerTrailer bounds what may follow the tar's end in a layer: zeros
// only (tar writers pad to their record size; Go's writes none).
const maxLayerTrailer = 1 << 20

// layerNAR reads a layer (gzip-compressed tar) and produces the NAR of the
// one store path in it: the first entry named .../store/<store path name>.
// Every entry before it must be one of its parent directories, every entry
// after it must be under it, and only directories, regular files and
// symbolic links are accepted, in the order a NAR lists them; anything
// else is an error, so a layer holding more than that path, or a tree a NAR
// cannot describe, is refused rather than half read. A file is executable
// when its owner may execute it, as in Nix's dump.
type layerNAR struct {
	gz      *kgzip.Reader
	tr      *tar.Reader
	nw      *nar.Writer
	out     bytes.Buffer
	root    string
	before  []string // entries before the root: its parents
	inFile  bool
	done    bool
	err     error
	scratch []byte
}

// newLayerNAR starts reading the layer from r.
func newLayerNAR(r io.Reader) (*layerNAR, error) {
	gz, err := kgzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("the layer is not gzip-compressed\n%w", err)
	}
	l := &layerNAR{gz: gz, tr: tar.NewReader(gz), scratch: make([]byte, 256<<10)}
	if l.nw, err = nar.NewWriter(&l.out); err != nil {
		return nil, err
	}
	return l, nil
}

// Read returns the NAR's next bytes.
func (l *layerNAR) Read(p []byte) (int, error) {
	for l.out.Len() == 0 {
		if l.err != nil {
			return 0, l.err
		}
		if l.done {
			return 0, io.EOF
		}
		if err := l.step(); err != nil {
			l.err = err
		}
	}
	return l.out.Read(p)
}

// step converts the next piece of the tar: a chunk of a file's contents,
// or the next entry's header.
func (l *layerNAR) step() error {
	if l.inFile {
		n, err := l.tr.Read(l.scratch)
		if n > 0 {
			if _, werr := l.nw.Write(l.scratch[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			l.inFile = false
			return nil
		}
		return err
	}
	h, err := l.tr.Next()
	if err == io.EOF {
		return l.finish()
	}
	if err != nil {
		return fmt.Errorf("corrupt layer tar\n%w", err)
	}
	name := strings.Trim(path.Clean("/"+h.Name), "/")
	if l.root == "" {
		return l.beforeRoot(h, name)
	}
	if name != l.root && !strings.HasPrefix(name, l.root+"/") {
		return fmt.Errorf("the layer holds %s, which is not under the store path %s", name, l.root)
	}
	return l.entry(h, name[len(l.root):])
}

// beforeRoot takes an entry seen before the store path: one of its parent
// directories, or the store path itself.
func (l *layerNAR) beforeRoot(h *tar.Header, name string) error {
	dir, base := path.Split(name)
	if path.Base(dir) == "store" && storePathName.MatchString(base) {
		for _, b := range l.before {
			if !strings.HasPrefix(name, b+"/") {
				return fmt.Errorf("the layer holds %s, which is not a parent of the store path %s", b, name)
			}
		}
		l.root = name
		return l.entry(h, "/")
	}
	if h.Typeflag != tar.TypeDir {
		return fmt.Errorf("the layer holds %s before any store path", name)
	}
	l.before = append(l.before, name)
	return nil
}

// entry writes one tar entry as a NAR node at sub ("" or "/" for the root).
func (l *layerNAR) entry(h *tar.Header, sub string) error {
	if sub == "" {
		sub = "/"
	}
	switch h.Typeflag {
	case tar.TypeDir:
		return l.nw.WriteHeader(&nar.Header{Path: sub, Type: nar.TypeDirectory})
	case tar.TypeSymlink:
		return l.nw.WriteHeader(&nar.Header{Path: sub, Type: nar.TypeSymlink, LinkTarget: h.Linkname})
	case tar.TypeReg:
		if err := l.nw.WriteHeader(&nar.Header{Path: sub, Type: nar.TypeRegular, Size: h.Size, Executable: h.Mode&0o100 != 0}); err != nil {
			return err
		}
		l.inFile = h.Size > 0
		return nil
	}
	return fmt.Errorf("the layer holds %s of tar type %q; a store path has only directories, files and symbolic links", h.Name, h.Typeflag)
}

// finish ends the NAR at the tar's end, refusing a layer without a store
// path or with anything but zeros after its end.
func (l *layerNAR) finish() error {
	if l.root == "" {
		return errors.New("the layer holds no store path (no entry named .../store/<hash>-<name>)")
	}
	n, err := io.Copy(zerosOnly{}, io.LimitReader(l.gz, maxLayerTrailer+1))
	switch {
	case err != nil:
		return fmt.Errorf("corrupt layer after its tar\n%w", err)
	case n > maxLayerTrailer:
		return errors.New("the layer has more than 1 MiB after its tar")
	}
	if err := l.nw.Close(); err != nil {
		return err
	}
	l.done = true
	return nil
}

// zerosOnly accepts zero bytes only.
type zerosOnly struct{}

func (zerosOnly) Write(p []byte) (int, error) {
	for _, b := range p {
		if b != 0 {
			return 0, errors.New("the layer has data after its tar")
		}
	}
	return len(p), nil
}
