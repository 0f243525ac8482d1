package prune

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"syscall"

	"github.com/nix-buildpack/nix-buildpack/internal/exclude"

	"golang.org/x/sys/unix"
)

// The walk reads directories through open descriptors: entries are stat'ed,
// read and (when copying while reading) created relative to their
// directory, so the kernel walks one name instead of the whole path.

// dirent is one name read from a directory by getdents(2), with its type
// (unix.DT_UNKNOWN where the filesystem does not say).
type dirent struct {
	name string
	typ  uint8
}

var direntBufs = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// openDir opens the directory name relative to the directory at (or the
// working directory: unix.AT_FDCWD), following a symlink only when asked.
func openDir(at int, name string, follow bool) (int, error) {
	flags := unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC
	if !follow {
		flags |= unix.O_NOFOLLOW
	}
	for {
		fd, err := unix.Openat(at, name, flags, 0)
		if !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
}

// readDirents lists the open directory fd, "." and ".." left out, in the
// order the filesystem keeps them.
func readDirents(fd int) ([]dirent, error) {
	bp := direntBufs.Get().(*[]byte)
	defer direntBufs.Put(bp)
	buf := *bp
	var out []dirent
	for {
		n, err := unix.ReadDirent(fd, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return out, nil
		}
		// struct linux_dirent64: ino u64, off s64, reclen u16, type u8,
		// name. One string holds the names read at once, each a slice of it.
		if out == nil {
			out = make([]dirent, 0, n/32)
		}
		names := string(buf[:n])
		for off := 0; off+19 <= n; {
			reclen := int(binary.NativeEndian.Uint16(buf[off+16 : off+18]))
			if reclen < 19 || off+reclen > n {
				return nil, fmt.Errorf("getdents64 returned a record of %d bytes", reclen)
			}
			name := names[off+19 : off+reclen]
			if i := strings.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if name != "." && name != ".." {
				out = append(out, dirent{name: name, typ: buf[off+18]})
			}
			off += reclen
		}
	}
}

// statAt is lstat(2) of name in the directory at.
func statAt(at int, name string) (unix.Stat_t, error) {
	var st unix.Stat_t
	for {
		err := unix.Fstatat(at, name, &st, unix.AT_SYMLINK_NOFOLLOW)
		if !errors.Is(err, unix.EINTR) {
			return st, err
		}
	}
}

// readlinkAt reads the target of the symlink name in the directory at.
func readlinkAt(at int, name string, size int64) (string, error) {
	n := max(int(size)+1, 128)
	for {
		buf := make([]byte, n)
		got, err := unix.Readlinkat(at, name, buf)
		if err != nil {
			return "", err
		}
		if got < len(buf) {
			return string(buf[:got]), nil
		}
		n *= 2
	}
}

// modeOf is the fs.FileMode of a raw st_mode, as os.Lstat gives it.
func modeOf(raw uint32) fs.FileMode {
	m := fs.FileMode(raw & 0o777)
	switch raw & unix.S_IFMT {
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	}
	if raw&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if raw&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if raw&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// entryAt stats the kept entry name of the directory at (and reads a
// symlink's target); dir is the directory's path, for messages.
func entryAt(at int, name, dir, rel string, dec exclude.Decision) (Entry, error) {
	st, err := statAt(at, name)
	if err != nil {
		return Entry{}, fmt.Errorf("unable to stat %s/%s\n%w", dir, name, err)
	}
	e := Entry{Path: rel, Mode: modeOf(st.Mode), Decision: dec, meta: meta{
		uid: st.Uid, gid: st.Gid, rawMode: st.Mode, rdev: st.Rdev,
		mtime: syscall.Timespec{Sec: st.Mtim.Sec, Nsec: st.Mtim.Nsec},
	}}
	switch {
	case e.Mode&fs.ModeSymlink != 0:
		if e.Target, err = readlinkAt(at, name, st.Size); err != nil {
			return Entry{}, fmt.Errorf("unable to read symlink %s/%s\n%w", dir, name, err)
		}
		e.Size = st.Size
	case !e.Mode.IsDir():
		e.Size = st.Size
	}
	return e, nil
}
