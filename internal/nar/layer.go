package nar

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/nix-community/go-nix/pkg/nar"
)

// LayerCompression is the Compression of a narinfo whose file is not a NAR
// but an image layer: the gzip-compressed tar that the CNB lifecycle's
// exporter makes of a launch layer holding one store path at
// <layer>/store/<name>. An OCI cache stores a store path so when the path
// is to be its own image layer, so that the exporter finds the blob already
// in the registry and sends nothing. Reading one (Decompress) rebuilds the
// path's NAR from the tar, so the narinfo's NarHash is checked as for any
// NAR. Nix does not know this Compression and refuses such a narinfo.
const LayerCompression = "oci-layer+gzip"

// layerModTime is the modification time the lifecycle gives every entry of
// a layer (archive.NormalizedModTime).
var layerModTime = time.Date(1980, time.January, 1, 0, 0, 1, 0, time.UTC)

// Layer says where a store path sits in its image layer's tar, as the
// lifecycle v0.21 exporter writes it (layers.Factory.DirLayer): the layer
// directory's parents as they are on disk, then the layer directory and
// everything under it owned by the exporter's -uid/-gid, every entry's
// modification time normalised, user and group names empty.
type Layer struct {
	// Parents are the directories above Dir, outermost first, as
	// LayerParents reads them.
	Parents []tar.Header
	// Dir is the layer's directory (e.g. /layers/<buildpack>/store-<hash>),
	// holding store/<name>.
	Dir string
	// UID and GID own Dir and what is under it.
	UID, GID int
}

// LayerParents reads the directories above layerDir (not "/"), outermost
// first, as the exporter describes them: os.Stat, their own owner and mode.
func LayerParents(layerDir string) ([]tar.Header, error) {
	var out []tar.Header
	for p := filepath.Dir(filepath.Clean(layerDir)); p != "/" && p != "."; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("unable to read %s\n%w", p, err)
		}
		h, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return nil, fmt.Errorf("unable to describe %s\n%w", p, err)
		}
		h.Name = p
		out = append(out, *h)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// PackLayer writes the tree at dir (a store path's on-disk location) as
// the layer l would be exported, compressed as go-containerregistry's
// tarball layer compresses it (gzip, BestSpeed: what the exporter uploads),
// and serialises it as a NAR at the same time for its hash. Packed's file
// digest is then the layer blob's digest.
func PackLayer(dir string, sizeHint uint64, l Layer) (*Packed, error) {
	p := &Packed{}
	var sink io.Writer
	var mem bytes.Buffer
	if sizeHint > inMemoryLimit {
		f, err := os.CreateTemp("", "nixbp-layer-*")
		if err != nil {
			return nil, fmt.Errorf("unable to create a temporary file for a layer\n%w", err)
		}
		p.file, sink = f, f
	} else {
		sink = &mem
	}
	fileHash := &hashingWriter{w: sink, h: sha256.New()}
	err := writeLayer(fileHash, dir, l, p)
	if err == nil && p.file != nil {
		_, err = p.file.Seek(0, io.SeekStart)
	}
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("unable to pack %s as a layer\n%w", dir, err)
	}
	p.FileSHA256, p.FileSize = fileHash.h.Sum(nil), fileHash.n
	if p.file != nil {
		p.Body = p.file
	} else {
		p.Body = bytes.NewReader(mem.Bytes())
	}
	return p, nil
}

// writeLayer writes the compressed layer to w, filling p's NAR digest and size.
func writeLayer(w io.Writer, dir string, l Layer, p *Packed) error {
	gz, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	for _, h := range l.Parents {
		h.ModTime, h.Uname, h.Gname = layerModTime, "", ""
		if err := tw.WriteHeader(&h); err != nil {
			return err
		}
	}
	for _, name := range []string{l.Dir, l.Dir + "/store"} {
		h := &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, Uid: l.UID, Gid: l.GID, ModTime: layerModTime}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
	}
	narHash := &hashingWriter{w: io.Discard, h: sha256.New()}
	nw, err := nar.NewWriter(narHash)
	if err != nil {
		return err
	}
	lw := &layerWalk{tw: tw, nw: nw, root: dir, prefix: l.Dir + "/store/" + filepath.Base(dir), l: l}
	if err := lw.walk("/"); err != nil {
		return err
	}
	if err := nw.Close(); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	p.NarSHA256, p.NarSize = narHash.h.Sum(nil), narHash.n
	return nil
}

// layerWalk writes a tree to a layer's tar and a NAR at once, in the order
// both want: names sorted bytewise, a directory before its entries (the
// order of filepath.Walk, which the exporter uses, and of Nix's dump).
type layerWalk struct {
	tw     *tar.Writer
	nw     *nar.Writer
	root   string
	prefix string
	l      Layer
	buf    []byte
}

func (w *layerWalk) walk(sub string) error {
	p := filepath.Join(w.root, sub)
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	link := ""
	if fi.Mode()&os.ModeSymlink != 0 {
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	}
	h, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	h.Name = w.prefix
	if sub != "/" {
		h.Name += sub
	}
	h.Uid, h.Gid, h.ModTime, h.Uname, h.Gname = w.l.UID, w.l.GID, layerModTime, "", ""
	if err := w.tw.WriteHeader(h); err != nil {
		return err
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return w.nw.WriteHeader(&nar.Header{Path: sub, Type: nar.TypeSymlink, LinkTarget: link})
	case fi.Mode().IsRegular():
		if err := w.nw.WriteHeader(&nar.Header{Path: sub, Type: nar.TypeRegular, Size: fi.Size(), Executable: fi.Mode()&0o100 != 0}); err != nil {
			return err
		}
		return w.contents(p, fi.Size())
	case fi.IsDir():
		if err := w.nw.WriteHeader(&nar.Header{Path: sub, Type: nar.TypeDirectory}); err != nil {
			return err
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return err
		}
		names := make([]string, len(entries))
		for i, e := range entries {
			names[i] = e.Name()
		}
		sort.Strings(names)
		for _, n := range names {
			if err := w.walk(filepath.Join(sub, n)); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%s is neither a file, a directory nor a symbolic link", p)
}

// contents copies a file into both the tar and the NAR.
func (w *layerWalk) contents(p string, size int64) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if w.buf == nil {
		w.buf = make([]byte, 256<<10)
	}
	n, err := io.CopyBuffer(io.MultiWriter(w.tw, w.nw), f, w.buf)
	if err == nil && n != size {
		err = fmt.Errorf("%s changed while it was read (%d bytes, expected %d)", p, n, size)
	}
	return err
}
