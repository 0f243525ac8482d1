// Package dirfd is the system calls prune's walk and copy make relative
// to an open directory (openat, getdents64, fstatat, readlinkat, unlinkat,
// utimensat): the kernel then resolves one name per call instead of a
// whole path. Open, ReadDir and Lstat retry on EINTR, as Go's os package
// does. Linux only, as prune is.
package dirfd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Dirent is one name read from a directory by getdents(2), with its type
// (unix.DT_DIR, ...; unix.DT_UNKNOWN where the filesystem does not say).
type Dirent struct {
	Name string
	Type uint8
}

var direntBufs = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// Open opens the directory name relative to the directory at (or the
// working directory: unix.AT_FDCWD), following a symlink only when asked.
func Open(at int, name string, follow bool) (int, error) {
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

// ReadDir lists the open directory fd, "." and ".." left out, in the
// order the filesystem keeps them.
func ReadDir(fd int) ([]Dirent, error) {
	bp := direntBufs.Get().(*[]byte)
	defer direntBufs.Put(bp)
	buf := *bp
	var out []Dirent
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
			out = make([]Dirent, 0, n/32)
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
				out = append(out, Dirent{Name: name, Type: buf[off+18]})
			}
			off += reclen
		}
	}
}

// Lstat is lstat(2) of name in the directory at.
func Lstat(at int, name string) (unix.Stat_t, error) {
	var st unix.Stat_t
	for {
		err := unix.Fstatat(at, name, &st, unix.AT_SYMLINK_NOFOLLOW)
		if !errors.Is(err, unix.EINTR) {
			return st, err
		}
	}
}

// Readlink reads the target of the symlink name in the directory at; size
// is its length as lstat gave it (the buffer grows if it was wrong).
func Readlink(at int, name string, size int64) (string, error) {
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

// Mode is the fs.FileMode of a raw st_mode, as os.Lstat gives it.
func Mode(raw uint32) fs.FileMode {
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

// Remove removes name from the directory at, as os.Remove does: a file,
// or else an empty directory.
func Remove(at int, name string) error {
	err := unix.Unlinkat(at, name, 0)
	if err == nil {
		return nil
	}
	if derr := unix.Unlinkat(at, name, unix.AT_REMOVEDIR); derr == nil {
		return nil
	}
	return err
}

// utimeOmit leaves a time unchanged in utimensat(2); the access time is not
// something `rsync -a` carries over.
const utimeOmit = (1 << 30) - 2

// SetMtime sets the modification time of name in the directory at (or of
// a path: unix.AT_FDCWD), of a symlink itself when noFollow is set (rsync
// does so where the system can, as Linux can). The access time is left
// alone.
func SetMtime(at int, name string, mtime syscall.Timespec, noFollow bool) error {
	p, err := syscall.BytePtrFromString(name)
	if err != nil {
		return err
	}
	flags := 0
	if noFollow {
		flags = unix.AT_SYMLINK_NOFOLLOW
	}
	return utimensat(at, p, mtime, flags)
}

// SetMtimeFile sets the modification time of an open file (futimens(3)).
func SetMtimeFile(f *os.File, mtime syscall.Timespec) error {
	return utimensat(int(f.Fd()), nil, mtime, 0)
}

func utimensat(dirfd int, path *byte, mtime syscall.Timespec, flags int) error {
	ts := [2]syscall.Timespec{{Nsec: utimeOmit}, mtime}
	_, _, errno := syscall.Syscall6(syscall.SYS_UTIMENSAT, uintptr(dirfd),
		uintptr(unsafe.Pointer(path)), uintptr(unsafe.Pointer(&ts[0])), uintptr(flags), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
