package prune

import (
	"os"
	"syscall"
	"unsafe"
)

// utimeOmit leaves a time unchanged in utimensat(2); the access time is not
// something `rsync -a` carries over.
const utimeOmit = (1 << 30) - 2

// From <fcntl.h>; the syscall package keeps them unexported.
const (
	atFDCWD           = -0x64
	atSymlinkNoFollow = 0x100
)

// setTimes sets the modification time of path, of a symlink itself when
// noFollow is set (rsync does so where the system can, as Linux can).
func setTimes(path string, mtime syscall.Timespec, noFollow bool) error {
	p, err := syscall.BytePtrFromString(path)
	if err != nil {
		return err
	}
	flags := 0
	if noFollow {
		flags = atSymlinkNoFollow
	}
	return utimensat(atFDCWD, p, mtime, flags)
}

// futimes sets the modification time of an open file (futimens(3)).
func futimes(f *os.File, mtime syscall.Timespec) error {
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
