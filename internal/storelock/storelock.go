// Package storelock keeps builds that share one Nix store from corrupting
// each other: two bin/compile runs on one Heroku CACHE_DIR, or any build on
// a store a person collects by hand (BP_NIX_GC=false, "a shared,
// hand-managed store").
//
// A build holds the store's build lock, exclusively, from before it
// installs Nix until it has copied its closure out: a second build waits
// for it, saying which process holds it, so that its Nix install (which may
// wipe the directory), restore, build and collection never interleave with
// the first's. flock(2) locks go when their process does, so a killed build
// leaves no stale lock.
//
// While it restores and builds, a build also holds Nix's own gc.lock
// shared, as Nix 2.3 and older did around adding a path: Nix's collector
// takes that lock exclusively for its whole run, so a collection started by
// hand waits until the build's paths are registered and rooted, and a
// restore waits for a collection already running. A path renamed into the
// store but not yet registered is never collected from under it.
package storelock

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// FileName is the build lock, at the top of the Nix directory; a Nix
// reinstall that empties the directory keeps it.
const FileName = ".nixbp-build.lock"

// gcLockFile is Nix's own collector lock, relative to the Nix directory.
const gcLockFile = "var/nix/gc.lock"

// Lock is a build's hold on one Nix directory.
type Lock struct {
	dir  string
	log  io.Writer
	fd   int
	gcFD int // -1 when gc.lock is not held
}

// Acquire takes nixDir's build lock, creating the directory if needed,
// and records who holds it. If another build holds it, Acquire says so on
// log, naming that build, and waits for it: every minute it says so again.
func Acquire(nixDir string, log io.Writer) (*Lock, error) {
	if err := os.MkdirAll(nixDir, 0o755); err != nil {
		return nil, fmt.Errorf("unable to create %s\n%w", nixDir, err)
	}
	path := filepath.Join(nixDir, FileName)
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("unable to open the build lock %s\n%w", path, err)
	}
	start, said := time.Now(), time.Time{}
	for {
		err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			_ = unix.Close(fd)
			return nil, fmt.Errorf("unable to lock %s\n%w", path, err)
		}
		if time.Since(said) >= time.Minute {
			fmt.Fprintf(log, "The Nix store in %s is in use by another build (%s); waiting for it to finish (%s so far): "+
				"two builds on one store would collect each other's paths\n",
				nixDir, holder(path), time.Since(start).Round(time.Second))
			said = time.Now()
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !said.IsZero() {
		fmt.Fprintf(log, "The Nix store in %s is free again, after %s\n", nixDir, time.Since(start).Round(time.Second))
	}
	// Roots a killed build left would keep its output for ever.
	_ = os.RemoveAll(filepath.Join(nixDir, buildingRoots))
	host, _ := os.Hostname()
	me := fmt.Sprintf("pid %d on %s, %s, since %s", os.Getpid(), host, filepath.Base(os.Args[0]), time.Now().UTC().Format(time.RFC3339))
	if err := unix.Ftruncate(fd, 0); err == nil {
		_, _ = unix.Pwrite(fd, []byte(me+"\n"), 0)
	}
	return &Lock{dir: nixDir, log: log, fd: fd, gcFD: -1}, nil
}

// holder is what the lock file says of the build holding it.
func holder(path string) string {
	data, err := os.ReadFile(path)
	if s := strings.TrimSpace(string(data)); err == nil && s != "" {
		return s
	}
	return "a process that has not said who it is yet"
}

// HoldGC takes Nix's gc.lock shared (see the package comment), waiting for
// a collection that is running; call it once Nix is installed. It is a
// no-op when the lock is held already.
func (l *Lock) HoldGC() error {
	if l.gcFD >= 0 {
		return nil
	}
	fd, err := holdGC(l.dir, l.log)
	if err != nil {
		return err
	}
	l.gcFD = fd
	return nil
}

// HoldGC takes the gc.lock of the Nix directory nixDir shared, outside a
// build (nixbp cache pull), until release is called.
func HoldGC(nixDir string, log io.Writer) (release func(), err error) {
	fd, err := holdGC(nixDir, log)
	if err != nil {
		return nil, err
	}
	return func() { _ = unix.Close(fd) }, nil
}

func holdGC(nixDir string, log io.Writer) (int, error) {
	path := filepath.Join(nixDir, gcLockFile)
	// flock needs no write access: a store of root's is locked read-only.
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		if err = os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
			fd, err = unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
		}
	}
	if err != nil {
		return -1, fmt.Errorf("unable to open Nix's collector lock %s\n%w", path, err)
	}
	err = unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		fmt.Fprintf(log, "A garbage collection of the Nix store in %s is running; waiting for it to finish\n", nixDir)
	}
	if err != nil {
		err = flockRetry(fd, unix.LOCK_SH)
	}
	if err != nil {
		_ = unix.Close(fd)
		return -1, fmt.Errorf("unable to lock %s\n%w", path, err)
	}
	return fd, nil
}

func flockRetry(fd, how int) error {
	for {
		if err := unix.Flock(fd, how); err != unix.EINTR {
			return err
		}
	}
}

// buildingRoots holds the build's temporary GC roots, relative to the Nix
// directory.
const buildingRoots = "var/nix/gcroots/nixbp-building"

// Root roots store paths (/nix/store/...) until Release: the build's output
// between the moment ReleaseGC lets a collection run and the moment the
// build's own roots, or its copy of the closure, no longer need it.
func (l *Lock) Root(paths ...string) error {
	dir := filepath.Join(l.dir, buildingRoots)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("unable to create %s\n%w", dir, err)
	}
	for _, p := range paths {
		link := filepath.Join(dir, filepath.Base(p))
		_ = os.Remove(link)
		if err := os.Symlink(p, link); err != nil {
			return fmt.Errorf("unable to root %s\n%w", p, err)
		}
	}
	return nil
}

// ReleaseGC lets Nix's collector run: the build's own collection, or one
// started by hand once the build's paths are rooted.
func (l *Lock) ReleaseGC() {
	if l.gcFD >= 0 {
		_ = unix.Close(l.gcFD)
		l.gcFD = -1
	}
}

// Release removes the build's temporary roots and gives up both locks.
func (l *Lock) Release() {
	_ = os.RemoveAll(filepath.Join(l.dir, buildingRoots))
	l.ReleaseGC()
	if l.fd >= 0 {
		_ = unix.Ftruncate(l.fd, 0)
		_ = unix.Close(l.fd)
		l.fd = -1
	}
}
