package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/layering"
)

// normalised is lifecycle's archive.NormalizedModTime.
var normalised = time.Date(1980, time.January, 1, 0, 0, 1, 0, time.UTC)

// countWriter counts the bytes written through it.
type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// tarDigest writes layer l's store paths from store as the exporter would
// (under /layers/nix-buildpack_nix/<name>/store, mtimes normalised, uid/gid
// 1000, regular files whole) and returns the tar's sha256 and size.
func tarDigest(store string, l layering.Layer) (string, int64, error) {
	h, cw := sha256.New(), &countWriter{}
	tw := tar.NewWriter(io.MultiWriter(h, cw))
	prefix := "/layers/nix-buildpack_nix/" + l.Name + "/store"
	for _, n := range l.Paths {
		root := filepath.Join(store, n)
		err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(store, p)
			link := ""
			if fi.Mode()&os.ModeSymlink != 0 {
				link, _ = os.Readlink(p)
			}
			hdr, err := tar.FileInfoHeader(fi, link)
			if err != nil {
				return err
			}
			hdr.Name = prefix + "/" + rel
			hdr.ModTime, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = normalised, 1000, 1000, "", ""
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			if fi.Mode().IsRegular() {
				f, err := os.Open(p)
				if err != nil {
					return err
				}
				defer f.Close()
				_, err = io.Copy(tw, f)
				return err
			}
			return nil
		})
		if err != nil {
			return "", 0, err
		}
	}
	if err := tw.Close(); err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), cw.n, nil
}
