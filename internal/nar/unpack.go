package nar

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// storeMtime is the modification time Nix gives everything in the store
// (one second after the epoch; see canonicalisePathMetaData in Nix); the
// access time is left alone.
var storeMtime = [2]unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Sec: 1}}

// Unpack creates the tree serialised in the NAR read from r as name in the
// directory parent (name must not exist), with the store's file modes:
// directories 0555, files 0444 or 0555 when executable, mtime 1 for all.
// Entries are created exclusively and relative to their parent directory's
// descriptor, so a NAR naming an entry twice, or "." or "..", fails instead
// of writing anywhere else, and no path is resolved twice. Every byte of the
// NAR passes through tap (when not nil) before it is parsed; tap sees the
// bytes after the NAR's end too, and its error stops the unpacking. A zstd
// decoder as r writes its blocks to the parser itself, with no copy. On
// error the new tree may be left partly written; the caller removes it.
func Unpack(r io.Reader, parent, name string, tap *Tap) error {
	u, err := newUnpacker(parent, name)
	if err != nil {
		return err
	}
	return u.close(parse(r, u, tap))
}

// Check parses the NAR read from r, through tap (when not nil), and keeps
// nothing: it refuses exactly the NARs Unpack refuses for their contents.
func Check(r io.Reader, tap *Tap) error {
	return parse(r, discard{}, tap)
}

// parse feeds r through tap to a Parser handing its entries to out.
func parse(r io.Reader, out Entries, tap *Tap) error {
	p := NewParser(out)
	buf := copyBufs.get()
	defer copyBufs.put(buf)
	_, err := io.CopyBuffer(tapped{p: p, tap: tap}, r, buf)
	if err == nil {
		err = p.Finish()
	}
	return err
}

// tapped feeds what is written to it, through tap, to a Parser.
type tapped struct {
	p   *Parser
	tap *Tap
}

func (w tapped) Write(b []byte) (int, error) {
	if w.tap != nil {
		if err := w.tap.take(b); err != nil {
			return 0, err
		}
	}
	return w.p.Write(b)
}

// discard takes a NAR's entries and keeps nothing.
type discard struct{}

func (discard) Directory(string) error         { return nil }
func (discard) EndDirectory() error            { return nil }
func (discard) Symlink(string, string) error   { return nil }
func (discard) File(string, bool, int64) error { return nil }
func (discard) Contents([]byte) error          { return nil }
func (discard) EndFile() error                 { return nil }

type openDir struct {
	path string // the directory's path inside the NAR, "" for the root
	fd   int
	keep bool // the store directory: neither sealed nor ours to change
}

// unpacker creates the entries a Parser reads (it is their Entries), relative to the descriptor of the directory each goes in.
type unpacker struct {
	parent, root string // where the tree goes: root in the directory parent
	stack        []openDir
	fileFD       int    // the regular file being written, or -1
	fileMode     uint32 // its mode
	filePath     string // its path inside the NAR
	size, done   int64  // its size and the bytes written so far
}

func newUnpacker(parent, root string) (*unpacker, error) {
	pfd, err := unix.Open(parent, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: parent, Err: err}
	}
	return &unpacker{parent: parent, root: root, fileFD: -1, stack: []openDir{{fd: pfd, keep: true}}}, nil
}

// entry is where an entry named name goes: the directory descriptor to
// create it relative to, the name there, and its path inside the NAR.
func (u *unpacker) entry(name string) (int, string, string) {
	top := u.stack[len(u.stack)-1]
	if len(u.stack) == 1 {
		return top.fd, u.root, ""
	}
	return top.fd, name, top.path + "/" + name
}

// fail names the entry at path (inside the NAR) in err.
func (u *unpacker) fail(path string, err error) error {
	return fmt.Errorf("%s: %w", filepath.Join(u.parent, u.root, filepath.FromSlash(path)), err)
}

func (u *unpacker) Directory(name string) error {
	dfd, base, path := u.entry(name)
	if err := unix.Mkdirat(dfd, base, 0o755); err != nil {
		return u.fail(path, err)
	}
	fd, err := unix.Openat(dfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return u.fail(path, err)
	}
	u.stack = append(u.stack, openDir{path: path, fd: fd})
	return nil
}

// EndDirectory seals the directory just filled: mode 0555 and mtime 1,
// after its last entry, whose creation would change the mtime.
func (u *unpacker) EndDirectory() error {
	path := u.stack[len(u.stack)-1].path
	if err := u.pop(true); err != nil {
		return u.fail(path, err)
	}
	return nil
}

func (u *unpacker) Symlink(name, target string) error {
	dfd, base, path := u.entry(name)
	if err := unix.Symlinkat(target, dfd, base); err != nil {
		return u.fail(path, err)
	}
	ts := storeMtime
	if err := unix.UtimesNanoAt(dfd, base, ts[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return u.fail(path, err)
	}
	return nil
}

func (u *unpacker) File(name string, executable bool, size int64) error {
	dfd, base, path := u.entry(name)
	u.fileMode = 0o444
	if executable {
		u.fileMode = 0o555
	}
	fd, err := unix.Openat(dfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, u.fileMode)
	if err != nil {
		return u.fail(path, err)
	}
	u.fileFD, u.filePath, u.size, u.done = fd, path, size, 0
	return nil
}

// Contents writes the next bytes of the current file.
func (u *unpacker) Contents(p []byte) error {
	for len(p) > 0 {
		k, err := unix.Write(u.fileFD, p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return u.fail(u.filePath, err)
		}
		p = p[k:]
		u.done += int64(k)
	}
	return nil
}

// EndFile gives the file written its mode (when the umask took bits
// away) and the store mtime, and closes it.
func (u *unpacker) EndFile() error {
	var err error
	if u.done != u.size {
		err = fmt.Errorf("invalid NAR: the file ends after %d of %d bytes", u.done, u.size)
	}
	if err == nil && umaskHidesBits {
		err = unix.Fchmod(u.fileFD, u.fileMode)
	}
	if err == nil {
		err = futimens(u.fileFD)
	}
	if cerr := unix.Close(u.fileFD); err == nil {
		err = cerr
	}
	u.fileFD = -1
	if err != nil {
		return u.fail(u.filePath, err)
	}
	return nil
}

// close releases every descriptor after the NAR ended with err; on
// success the directories left open are sealed (none should be).
func (u *unpacker) close(err error) error {
	if u.fileFD >= 0 {
		_ = unix.Close(u.fileFD)
		u.fileFD = -1
	}
	if cerr := u.closeAll(err == nil); err == nil {
		err = cerr
	}
	return err
}

// pop closes the innermost open directory, first sealing it (mode 0555,
// mtime 1) if asked.
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
