package cache

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"github.com/nix-community/go-nix/pkg/nar"
	"golang.org/x/sys/unix"
)

// storeMtime is the modification time Nix gives everything in the store
// (one second after the epoch; see canonicalisePathMetaData in Nix); the
// access time is left alone.
var storeMtime = [2]unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Sec: 1}}

// unpackNAR creates the tree serialised in the NAR read from r as name in
// the directory parent (name must not exist), with the store's file modes:
// directories 0555, files 0444 or 0555 when executable, mtime 1 for all.
// Entries are created exclusively and relative to their parent directory's
// descriptor, so a NAR naming an entry twice, or "." or "..", fails instead
// of writing anywhere else, and no path is resolved twice. buf is the copy
// buffer. On error the new tree may be left partly written; the caller
// removes it.
func unpackNAR(r io.Reader, parent, name string, buf []byte) (err error) {
	src := &abortableReader{r: r}
	nr, err := nar.NewReader(src)
	if err != nil {
		return fmt.Errorf("invalid NAR: %w", err)
	}
	u := &unpacker{nr: nr, buf: buf}
	defer func() {
		if cerr := u.closeAll(err == nil); err == nil {
			err = cerr
		}
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
	pfd, err := unix.Open(parent, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: parent, Err: err}
	}
	u.stack = append(u.stack, openDir{path: "", fd: pfd, keep: true})
	for {
		hdr, err := nr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("invalid NAR: %w", err)
		}
		entry := name
		if hdr.Path != "/" {
			// Leave (and seal) the directories this entry is not in.
			dir := path.Dir(hdr.Path)
			if dir == "/" {
				dir = ""
			}
			for len(u.stack) > 1 && u.stack[len(u.stack)-1].path != dir {
				if err := u.pop(true); err != nil {
					return err
				}
			}
			if u.stack[len(u.stack)-1].path != dir {
				return fmt.Errorf("invalid NAR: %s is outside the directories read so far", hdr.Path)
			}
			entry = path.Base(hdr.Path)
		} else if len(u.stack) != 1 {
			return fmt.Errorf("invalid NAR: a second root")
		}
		if err := u.create(hdr, entry); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(parent, name, filepath.FromSlash(hdr.Path)), err)
		}
	}
}

type openDir struct {
	path string // the directory's path inside the NAR, "" for the root
	fd   int
	keep bool // the store directory: neither sealed nor ours to change
}

type unpacker struct {
	nr    *nar.Reader
	buf   []byte
	stack []openDir
}

func (u *unpacker) create(hdr *nar.Header, name string) error {
	dfd := u.stack[len(u.stack)-1].fd
	switch hdr.Type {
	case nar.TypeDirectory:
		if err := unix.Mkdirat(dfd, name, 0o755); err != nil {
			return err
		}
		fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		p := hdr.Path
		if p == "/" {
			p = ""
		}
		u.stack = append(u.stack, openDir{path: p, fd: fd})
		return nil
	case nar.TypeSymlink:
		if err := unix.Symlinkat(hdr.LinkTarget, dfd, name); err != nil {
			return err
		}
		ts := storeMtime
		return unix.UtimesNanoAt(dfd, name, ts[:], unix.AT_SYMLINK_NOFOLLOW)
	case nar.TypeRegular:
		mode := uint32(0o444)
		if hdr.Executable {
			mode = 0o555
		}
		fd, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
		if err != nil {
			return err
		}
		err = u.copyContents(fd, hdr.Size)
		if err == nil && umaskHidesBits {
			err = unix.Fchmod(fd, mode)
		}
		if err == nil {
			err = futimens(fd)
		}
		if cerr := unix.Close(fd); err == nil {
			err = cerr
		}
		return err
	default:
		return fmt.Errorf("invalid NAR: unknown type %q", hdr.Type)
	}
}

// copyContents writes the current NAR entry's size bytes to fd.
func (u *unpacker) copyContents(fd int, size int64) error {
	var done int64
	for done < size {
		n, err := u.nr.Read(u.buf[:min(int64(len(u.buf)), size-done)])
		for w := 0; w < n; {
			k, werr := unix.Write(fd, u.buf[w:n])
			if werr == unix.EINTR {
				continue
			}
			if werr != nil {
				return werr
			}
			w += k
		}
		done += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if done != size {
		return fmt.Errorf("invalid NAR: the file ends after %d of %d bytes", done, size)
	}
	return nil
}

// pop closes the innermost open directory, first sealing it (mode 0555,
// mtime 1: after its last child, which would change the mtime) if asked.
func (u *unpacker) pop(seal bool) error {
	d := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	var err error
	if seal && !d.keep {
		err = unix.Fchmod(d.fd, 0o555)
		if err == nil {
			err = futimens(d.fd)
		}
	}
	if cerr := unix.Close(d.fd); err == nil {
		err = cerr
	}
	return err
}

// closeAll closes every open directory, sealing them if seal.
func (u *unpacker) closeAll(seal bool) error {
	var first error
	for len(u.stack) > 0 {
		if err := u.pop(seal); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// futimens sets the store mtime on an open file: utimensat(fd, NULL, ...),
// which x/sys/unix does not wrap.
func futimens(fd int) error {
	ts := storeMtime
	_, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if errno != 0 {
		return errno
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
