package cache

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nix-community/go-nix/pkg/nar"
	"golang.org/x/sys/unix"
)

// storeMtime is the modification time Nix gives everything in the store
// (one second after the epoch; see canonicalisePathMetaData in Nix).
var storeMtime = []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Sec: 1}}

// unpackNAR creates the tree serialised in the NAR read from r at dst, which
// must not exist, with the store's file modes: directories 0555, files 0444
// or 0555 when executable, mtime 1 for all. Entries are created exclusively
// (O_EXCL, mkdir, symlink), so a NAR naming an entry twice, or "." or "..",
// fails instead of writing outside dst. buf is the copy buffer. On error dst
// may be left partly written; the caller removes it.
func unpackNAR(r io.Reader, dst string, buf []byte) (err error) {
	src := &abortableReader{r: r}
	nr, err := nar.NewReader(src)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			// Stop go-nix's parser goroutine: with the source cut off, the
			// next header request makes it fail and exit.
			src.r = nil
			for {
				if _, nerr := nr.Next(); nerr != nil {
					break
				}
			}
		}
	}()
	var dirs []string
	out := struct{ io.Writer }{} // hides os.File.ReadFrom so buf is used
	for {
		hdr, err := nr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("invalid NAR: %w", err)
		}
		p := dst
		if hdr.Path != "/" {
			p = dst + filepath.FromSlash(hdr.Path)
		}
		switch hdr.Type {
		case nar.TypeDirectory:
			if err := os.Mkdir(p, 0o755); err != nil {
				return err
			}
			dirs = append(dirs, p)
		case nar.TypeSymlink:
			if err := os.Symlink(hdr.LinkTarget, p); err != nil {
				return err
			}
			if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, storeMtime, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return &fs.PathError{Op: "utimensat", Path: p, Err: err}
			}
		case nar.TypeRegular:
			mode := fs.FileMode(0o444)
			if hdr.Executable {
				mode = 0o555
			}
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
			if err != nil {
				return err
			}
			out.Writer = f
			n, err := io.CopyBuffer(out, nr, buf)
			if err == nil && n != hdr.Size {
				err = fmt.Errorf("invalid NAR: %s ends after %d of %d bytes", hdr.Path, n, hdr.Size)
			}
			if err == nil && umaskHidesBits {
				err = f.Chmod(mode)
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, storeMtime, 0); err != nil {
				return &fs.PathError{Op: "utimensat", Path: p, Err: err}
			}
		default:
			return fmt.Errorf("invalid NAR: %s has unknown type %q", hdr.Path, hdr.Type)
		}
	}
	// Children change their directory's mtime, so directories are sealed
	// last, deepest first.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(dirs[i], 0o555); err != nil {
			return err
		}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, dirs[i], storeMtime, 0); err != nil {
			return &fs.PathError{Op: "utimensat", Path: dirs[i], Err: err}
		}
	}
	return nil
}

// abortableReader lets unpackNAR cut go-nix's parser off its input.
type abortableReader struct{ r io.Reader }

var errAborted = errors.New("unpack aborted")

func (a *abortableReader) Read(p []byte) (int, error) {
	if a.r == nil {
		return 0, errAborted
	}
	return a.r.Read(p)
}

// umaskHidesBits is true when the process umask would strip read or execute
// bits from 0444/0555, so modes must be set explicitly (one chmod per file
// saved otherwise).
var umaskHidesBits = func() bool {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return true
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			return err != nil || m&0o555 != 0
		}
	}
	return true
}()

// removeTree deletes a tree that may contain read-only directories, as an
// unprivileged user cannot unlink entries of a 0555 directory.
func removeTree(p string) error {
	if err := os.RemoveAll(p); err == nil {
		return nil
	}
	_ = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(q, 0o755)
		}
		return nil
	})
	return os.RemoveAll(p)
}
