package prune

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/nix-buildpack/nix-buildpack/internal/prune/dirfd"

	"golang.org/x/sys/unix"
)

// The --link copy creates entries while SRC is read (see plan), relative to
// open directories of SRC and DST: the kernel walks one name per call
// instead of two whole paths.

// destDir is a directory of DST being filled. It is opened only once
// something is made in it: many kept directories stay empty.
type destDir struct {
	parent int    // the directory holding it, open (or unix.AT_FDCWD)
	name   string // its name there
	fd     int    // -1 until opened
}

// open opens the directory once and returns its descriptor.
func (d *destDir) open() (int, error) {
	if d.fd < 0 {
		fd, err := dirfd.Open(d.parent, d.name, d.parent == unix.AT_FDCWD)
		if err != nil {
			return -1, err
		}
		d.fd = fd
	}
	return d.fd, nil
}

func (d *destDir) close() {
	if d.fd >= 0 {
		unix.Close(d.fd)
		d.fd = -1
	}
}

// createAt makes the kept entry name of the directory src of SRC in the
// directory dst of DST: a hard link (a copy where linking is refused), or a
// directory, which it returns.
func (c *copier) createAt(e *Entry, src int, dst *destDir, name string) (*destDir, error) {
	at, err := dst.open()
	if err != nil {
		return nil, fmt.Errorf("unable to open directory %s\n%w", filepath.Dir(filepath.Join(c.dst, e.Path)), err)
	}
	if e.Mode.IsDir() {
		return c.mkdirAt(e, at, name)
	}
	err = unix.Linkat(src, name, at, name, 0)
	if errors.Is(err, unix.EEXIST) {
		if err = dirfd.Remove(at, name); err == nil {
			err = unix.Linkat(src, name, at, name, 0)
		}
	}
	linked, err := c.linkDone(e, err)
	if linked || err != nil {
		return nil, err
	}
	return nil, c.recreate(e)
}

// mkdirAt creates the directory name in the directory at, writable by its
// owner until finishAt. A directory already there is kept, anything else
// replaced, as mkdir does.
func (c *copier) mkdirAt(e *Entry, at int, name string) (*destDir, error) {
	err := unix.Mkdirat(at, name, 0o700)
	if errors.Is(err, unix.EEXIST) {
		if st, serr := dirfd.Lstat(at, name); serr == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			err = nil
		} else if err = dirfd.Remove(at, name); err == nil {
			err = unix.Mkdirat(at, name, 0o700)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("unable to create directory %s\n%w", filepath.Join(c.dst, e.Path), err)
	}
	return &destDir{parent: at, name: name, fd: -1}, nil
}

// finishAt gives a directory made by mkdirAt its owner, mode and mtime, as
// finish does by path, relative to its parent (which made it, so is open).
func (c *copier) finishAt(e *Entry, dir *destDir) error {
	to := func() string { return filepath.Join(c.dst, e.Path) }
	if uid, gid, ok := c.owner(e.meta); ok {
		err := unix.Fchownat(dir.parent, dir.name, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
		if err != nil && (c.root || !errors.Is(err, unix.EPERM)) {
			return fmt.Errorf("unable to set the owner of %s\n%w", to(), err)
		}
	}
	if err := unix.Fchmodat(dir.parent, dir.name, e.meta.rawMode&0o7777, 0); err != nil {
		return fmt.Errorf("unable to set the mode of %s\n%w", to(), err)
	}
	if err := dirfd.SetMtime(dir.parent, dir.name, e.meta.mtime, true); err != nil {
		return fmt.Errorf("unable to set the time of %s\n%w", to(), err)
	}
	return nil
}
