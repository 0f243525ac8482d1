// Package storedir is the local end of a binary cache: the store directory
// a Fetch installs into and a Push reads from. A restore takes the store's
// restore lock (sweeping the temporary trees killed restores left), unpacks
// each NAR beside its final place checked against its narinfo (Unpack;
// Check reads one the same way and writes nothing), and renames the checked
// trees into place (Install); a push packs a path checked against what the
// Nix database records (Pack). Package cache speaks to the cache itself.
package storedir

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"golang.org/x/sys/unix"

	"github.com/nix-buildpack/nix-buildpack/internal/tree"
)

// Store is the Nix store a Fetch installs into: a Nix store (nixstore.Store)
// or a directory of store paths without Nix.
type Store interface {
	// Dir is the directory on disk that holds the store's paths (it may be
	// shown as /nix/store elsewhere).
	Dir() string
	// Valid returns which of paths the store's Nix database holds as valid
	// (nix-store --check-validity --print-invalid). Only a valid path counts
	// as present: a path on disk that the database does not know was left by
	// a restore or build that did not finish, and is replaced.
	Valid(paths []string) (map[string]bool, error)
}

// Valid asks the store which of paths are valid.
func Valid(s Store, paths []string) (map[string]bool, error) {
	if len(paths) == 0 {
		return map[string]bool{}, nil
	}
	valid, err := s.Valid(paths)
	if err != nil {
		return nil, fmt.Errorf("unable to ask the Nix database which store paths are valid\n%w", err)
	}
	return valid, nil
}

// Present returns which of paths the store holds: on disk and valid in
// its database. Only the paths on disk are asked about: one that is not
// cannot be present.
func Present(s Store, paths []string) (map[string]bool, error) {
	var onDisk []string
	for _, p := range paths {
		if _, err := os.Lstat(filepath.Join(s.Dir(), filepath.Base(p))); err == nil {
			onDisk = append(onDisk, p)
		}
	}
	return Valid(s, onDisk)
}

// LockName is the lock every Fetch holds shared on its store directory
// while it has temporary trees there. Nix ignores dot files in the store.
const LockName = ".nixbp-restore.lock"

// tempTree matches the temporary trees Unpack unpacks into:
// .<store path name>.tmp-<12 hex digits>.
var tempTree = regexp.MustCompile(`^\.[0-9a-df-np-sv-z]{32}-[^/]+\.tmp-[0-9a-f]{12}$`)

// Lock takes the restore lock of storeDir, shared, and returns its
// release. When no other Fetch holds it, it first removes the temporary
// trees that killed restores left behind (ours, by name, and only in
// storeDir), logging each.
func Lock(storeDir string, logf, warn func(format string, args ...any)) (func(), error) {
	lock := filepath.Join(storeDir, LockName)
	fd, err := unix.Open(lock, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err == unix.EACCES || err == unix.EROFS || err == unix.EPERM {
		// A store we cannot write to: nothing can be installed (each
		// rename will warn), but present paths are still found present.
		logf("%s is not writable (%v): no restore lock, no sweep", storeDir, err)
		return func() {}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("unable to create the restore lock %s\n%w", lock, err)
	}
	if unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) == nil {
		sweepTempTrees(storeDir, logf, warn)
	}
	// Downgrading keeps the lock, or waits for the restore that sweeps.
	for {
		err = unix.Flock(fd, unix.LOCK_SH)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("unable to lock %s\n%w", lock, err)
	}
	return func() { _ = unix.Close(fd) }, nil
}

// sweepTempTrees removes the temporary trees in storeDir; call it only
// while no Fetch runs there.
func sweepTempTrees(storeDir string, logf, warn func(format string, args ...any)) {
	entries, err := os.ReadDir(storeDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !tempTree.MatchString(e.Name()) {
			continue
		}
		p := filepath.Join(storeDir, e.Name())
		if err := tree.Remove(p); err != nil {
			warn("unable to remove %s, left by an interrupted restore: %v", p, err)
			continue
		}
		logf("Removed %s, left by an interrupted restore", p)
	}
}
