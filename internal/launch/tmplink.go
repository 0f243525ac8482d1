package launch

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ClosureIDFile, at the root of a relocated closure, identifies it (the
// build's key for the closure). Two directories with the same ID hold the
// same bytes.
const ClosureIDFile = ".nixbp-closure"

// linkPrefix makes link (a /tmp/<5 characters> name the build chose from
// the closure, as long as /nix/store) a symlink to target, the relocated
// closure in the slug, so that the relocated paths resolve wherever the
// app runs (Cloud Foundry's /home/vcap/app is too long to hold them).
//
// /tmp is shared. A link found there is used as it is only if lstat says
// it is a symlink owned by this uid that points at target, or at another
// copy of the same closure in a directory no other uid can change (see
// safeDir). Another user's link, or anything that is not a symlink, fails
// closed. This uid's own link to anything else is stale: it is replaced,
// atomically (a new symlink renamed over it), so it is never followed into
// a directory another uid controls; the one exception is a link to a
// directory this uid controls that holds another closure, which may be
// another app's running store, and is refused rather than broken.
func linkPrefix(link, target string) error {
	for range 2 {
		fi, err := os.Lstat(link)
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.Symlink(target, link); err == nil || !errors.Is(err, fs.ErrExist) {
				if err != nil {
					return fmt.Errorf("unable to create the link %s -> %s for the relocated closure\n%w", link, target, err)
				}
				return nil
			}
			continue // created meanwhile: check it
		}
		if err != nil {
			return fmt.Errorf("unable to check %s\n%w", link, err)
		}
		return checkLink(link, target, fi)
	}
	return fmt.Errorf("%s appears and disappears; refusing to use it", link)
}

func checkLink(link, target string, fi fs.FileInfo) error {
	refuse := func(why string) error {
		return fmt.Errorf("%s exists and %s, so it cannot hold this app's relocated closure (%s)\n"+
			"remove it if it is stale, or build with BP_NIX_RELOCATE=never", link, why, target)
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return refuse("is not a symlink")
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) != os.Getuid() {
		return refuse(fmt.Sprintf("belongs to another user (uid %d)", st.Uid))
	}
	got, err := os.Readlink(link)
	if err != nil {
		return refuse(err.Error())
	}
	if got == target {
		return nil
	}
	want, err := os.ReadFile(filepath.Join(target, ClosureIDFile))
	if err != nil {
		return refuse("points at " + got + ", and this closure has no " + ClosureIDFile)
	}
	// The kernel resolves a relative target against the link's directory.
	if !filepath.IsAbs(got) {
		got = filepath.Join(filepath.Dir(link), got)
	}
	dir, err := safeDir(got)
	if err != nil {
		return replaceLink(link, target) // dangling, or into what another uid controls
	}
	have, err := readOwnFile(filepath.Join(dir, ClosureIDFile))
	switch {
	case err == nil && strings.TrimSpace(have) == strings.TrimSpace(string(want)):
		return nil // another copy of the same closure, ours
	case err == nil:
		return refuse("points at " + got + ", which holds another closure")
	}
	return replaceLink(link, target)
}

// replaceLink points this uid's own link at target atomically: a fresh
// symlink beside it is renamed over it (in a sticky /tmp, only the link's
// owner may do that), so no moment exists where link is missing or points
// elsewhere.
func replaceLink(link, target string) error {
	var b [6]byte
	_, _ = rand.Read(b[:])
	tmp := filepath.Join(filepath.Dir(link), "."+filepath.Base(link)+".new-"+hex.EncodeToString(b[:]))
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("unable to replace the stale link %s -> %s\n%w", link, target, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("unable to replace the stale link %s -> %s\n%w", link, target, err)
	}
	return nil
}

// safeDir resolves p (every symlink in it) and returns the directory it
// names, if no other uid can change what that name leads to: every
// directory on the way is owned by root or this uid and writable by no
// other user, except a sticky one (as /tmp), where others may add entries
// but not replace this uid's; the directory itself is not writable by any
// other user at all.
func safeDir(p string) (string, error) {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	if real, err = filepath.Abs(real); err != nil {
		return "", err
	}
	dirs := []string{"/"}
	for _, name := range strings.Split(strings.TrimPrefix(real, "/"), "/") {
		if name != "" {
			dirs = append(dirs, filepath.Join(dirs[len(dirs)-1], name))
		}
	}
	for i, d := range dirs {
		fi, err := os.Lstat(d)
		if err != nil {
			return "", err
		}
		st := fi.Sys().(*syscall.Stat_t)
		othersWrite := fi.Mode().Perm()&0o022 != 0
		switch {
		case !fi.IsDir():
			return "", fmt.Errorf("%s is not a directory", d)
		case st.Uid != 0 && int(st.Uid) != os.Getuid():
			return "", fmt.Errorf("%s belongs to uid %d", d, st.Uid)
		case othersWrite && (i == len(dirs)-1 || fi.Mode()&fs.ModeSticky == 0):
			return "", fmt.Errorf("%s is writable by other users", d)
		}
	}
	return real, nil
}

// readOwnFile reads a regular file owned by root or this uid.
func readOwnFile(p string) (string, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return "", err
	}
	if st := fi.Sys().(*syscall.Stat_t); !fi.Mode().IsRegular() || st.Uid != 0 && int(st.Uid) != os.Getuid() {
		return "", fmt.Errorf("%s is not a file of this user", p)
	}
	data, err := os.ReadFile(p)
	return string(data), err
}
