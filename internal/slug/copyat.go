package slug

import (
	"errors"
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// The --link copy creates entries while SRC is read (see plan), relative to
// open directories of SRC and DST: the kernel walks one name per call
// instead of two whole paths.

// createAt makes the kept entry name of the directory src of SRC in the
// directory dst of DST: a hard link (a copy where linking is refused), or a
// directory, whose descriptor it returns (-1 otherwise).
func (c *copier) createAt(e *Entry, src, dst int, name string) (int, error) {
	if e.Mode.IsDir() {
		return c.mkdirAt(e, dst, name)
	}
	err := unix.Linkat(src, name, dst, name, 0)
	if errors.Is(err, unix.EEXIST) {
		if err = removeAt(dst, name); err == nil {
			err = unix.Linkat(src, name, dst, name, 0)
		}
	}
	linked, err := c.linkDone(e, err)
	if linked || err != nil {
		return -1, err
	}
	return -1, c.recreate(e)
}

// mkdirAt creates the directory name in the directory dst, writable by its
// owner until finishAt, and opens it. A directory already there is kept,
// anything else replaced, as mkdir does.
func (c *copier) mkdirAt(e *Entry, dst int, name string) (int, error) {
	err := unix.Mkdirat(dst, name, 0o700)
	if errors.Is(err, unix.EEXIST) {
		if st, serr := statAt(dst, name); serr == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			err = nil
		} else if err = removeAt(dst, name); err == nil {
			err = unix.Mkdirat(dst, name, 0o700)
		}
	}
	fd := -1
	if err == nil {
		fd, err = openDir(dst, name, false)
	}
	if err != nil {
		return -1, fmt.Errorf("unable to create directory %s\n%w", filepath.Join(c.dst, e.Path), err)
	}
	return fd, nil
}

// finishAt gives the directory open as fd its owner, mode and mtime, as
// finish does by path.
func (c *copier) finishAt(e *Entry, fd int) error {
	to := func() string { return filepath.Join(c.dst, e.Path) }
	if uid, gid, ok := c.owner(e.meta); ok {
		if err := unix.Fchown(fd, uid, gid); err != nil && (c.root || !errors.Is(err, unix.EPERM)) {
			return fmt.Errorf("unable to set the owner of %s\n%w", to(), err)
		}
	}
	if err := unix.Fchmod(fd, e.meta.rawMode&0o7777); err != nil {
		return fmt.Errorf("unable to set the mode of %s\n%w", to(), err)
	}
	if err := utimensat(fd, nil, e.meta.mtime, 0); err != nil {
		return fmt.Errorf("unable to set the time of %s\n%w", to(), err)
	}
	return nil
}

// removeAt removes name from the directory dst, as os.Remove does: a file,
// or else an empty directory.
func removeAt(dst int, name string) error {
	err := unix.Unlinkat(dst, name, 0)
	if err == nil {
		return nil
	}
	if derr := unix.Unlinkat(dst, name, unix.AT_REMOVEDIR); derr == nil {
		return nil
	}
	return err
}
