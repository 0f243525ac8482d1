package launch

import (
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
// /tmp is shared: a link that exists is used only if lstat says it is a
// symlink owned by this uid, pointing at target or at a directory holding
// the same closure; anything else (another user's file or link, a
// directory) fails closed, and the link is never followed before that
// check.
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
	if have, err := os.ReadFile(filepath.Join(got, ClosureIDFile)); err == nil && strings.TrimSpace(string(have)) == strings.TrimSpace(string(want)) {
		return nil // another copy of the same closure, ours
	}
	return refuse("points at " + got + ", which holds another closure")
}
