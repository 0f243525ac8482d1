package nixinstall

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xi2/xz"
)

type dirMode struct {
	path  string
	mode  os.FileMode
	mtime time.Time
}

// unpackTarXz unpacks an installer tarball's store/ into dir/store and
// returns its .reginfo. The tarball's single top directory is stripped.
// Store directories are read-only in the tarball, so their modes are applied
// after everything inside them is written.
func unpackTarXz(r io.Reader, dir string) ([]byte, error) {
	xr, err := xz.NewReader(r, 0)
	if err != nil {
		return nil, fmt.Errorf("unable to read xz\n%w", err)
	}
	tr := tar.NewReader(xr)
	var reginfo []byte
	var dirs []dirMode
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("unable to read tar\n%w", err)
		}
		name := filepath.Clean(hdr.Name)
		parts := strings.SplitN(name, string(filepath.Separator), 2)
		if len(parts) < 2 {
			continue
		}
		rel := parts[1]
		if rel == ".reginfo" {
			if reginfo, err = io.ReadAll(tr); err != nil {
				return nil, fmt.Errorf("unable to read .reginfo\n%w", err)
			}
			continue
		}
		if rel != "store" && !strings.HasPrefix(rel, "store/") {
			continue // the installer scripts
		}
		if strings.Contains(rel, "..") {
			return nil, fmt.Errorf("refusing tar entry %q outside the store", hdr.Name)
		}
		target := filepath.Join(dir, rel)
		mode := os.FileMode(hdr.Mode) & os.ModePerm
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return nil, err
			}
			dirs = append(dirs, dirMode{target, mode, hdr.ModTime})
		case tar.TypeReg:
			if err := writeFile(target, tr, mode, hdr.ModTime); err != nil {
				return nil, err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				return nil, fmt.Errorf("unable to create link %s\n%w", target, err)
			}
		case tar.TypeLink:
			src := filepath.Join(dir, strings.SplitN(filepath.Clean(hdr.Linkname), "/", 2)[1])
			if err := os.Link(src, target); err != nil {
				return nil, fmt.Errorf("unable to create hard link %s\n%w", target, err)
			}
		}
	}
	if reginfo == nil {
		return nil, errors.New("the tarball has no .reginfo: not a Nix binary installer tarball")
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		d := dirs[i]
		if err := os.Chmod(d.path, d.mode); err != nil {
			return nil, err
		}
		_ = os.Chtimes(d.path, d.mtime, d.mtime)
	}
	return reginfo, nil
}

func writeFile(path string, r io.Reader, mode os.FileMode, mtime time.Time) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("unable to create %s\n%w", path, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("unable to write %s\n%w", path, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(path, mode); err != nil {
		return err
	}
	return os.Chtimes(path, mtime, mtime)
}
