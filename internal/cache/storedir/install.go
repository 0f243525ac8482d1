package storedir

import (
	"os"
	"path/filepath"
	"sort"

	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
	"github.com/nix-buildpack/nix-buildpack/internal/tree"
)

// Install renames the checked temporary trees (tmps, by store path, from
// Unpack) into the store, each only with its references (closed), and
// returns their PathInfos (from entries), references before referrers, to
// register, and the paths it found valid already. The other trees are
// removed. present says which paths the store held before; logf and warn
// receive what Install did and what it could not do.
//
// A rename fails when the store path is already on disk. If the database
// holds it as valid, someone else installed it meanwhile and it is left
// alone. If not, it is what a restore killed between its renames and its
// registration left (or a half-written build output): its contents were
// never checked, so it is removed and the verified tree takes its place.
func Install(s Store, tmps map[string]string, entries map[string]*narinfo.NarInfo, present func(string) bool,
	logf, warn func(format string, args ...any)) (installed []narinfo.PathInfo, valid []string, err error) {
	final := closed(tmps, entries, present, warn)
	dst := func(storePath string) string { return filepath.Join(s.Dir(), filepath.Base(storePath)) }
	var taken []string
	for sp, tmp := range tmps {
		if !final[sp] {
			_ = tree.Remove(tmp)
			continue
		}
		if err := os.Rename(tmp, dst(sp)); err != nil {
			if _, serr := os.Lstat(dst(sp)); serr == nil {
				taken = append(taken, sp)
				continue
			}
			_ = tree.Remove(tmp)
			warn("%s: unable to move into the store: %v", sp, err)
			continue
		}
		installed = append(installed, entries[sp].PathInfo)
	}
	if len(taken) > 0 {
		sort.Strings(taken)
		nowValid, err := Valid(s, taken)
		if err != nil {
			for _, sp := range taken {
				_ = tree.Remove(tmps[sp])
			}
			return nil, nil, err
		}
		for _, sp := range taken {
			tmp := tmps[sp]
			if nowValid[sp] {
				valid = append(valid, sp)
				_ = tree.Remove(tmp)
				continue
			}
			logf("Replacing %s: it is on disk but not valid in the Nix database (an interrupted restore or build left it)", sp)
			err := tree.Remove(dst(sp))
			if err == nil {
				err = os.Rename(tmp, dst(sp))
			}
			if err != nil {
				_ = tree.Remove(tmp)
				warn("%s: unable to replace the unregistered copy in the store: %v", sp, err)
				continue
			}
			installed = append(installed, entries[sp].PathInfo)
		}
	}
	sort.Slice(installed, func(i, j int) bool { return installed[i].StorePath < installed[j].StorePath })
	return narinfo.ReferencesFirst(installed), valid, nil
}

// closed returns the paths of tmps whose references are all present or in
// the returned set itself, warning about each path left out: registering a
// path without its references would fail.
func closed(tmps map[string]string, entries map[string]*narinfo.NarInfo, present func(string) bool, warn func(format string, args ...any)) map[string]bool {
	ok := make(map[string]bool, len(tmps))
	for p := range tmps {
		ok[p] = true
	}
	for changed := true; changed; {
		changed = false
		for p := range ok {
			for _, r := range entries[p].References {
				if r != p && !ok[r] && !present(r) {
					delete(ok, p)
					changed = true
					why := "is not available from the cache"
					if _, found := entries[r]; found {
						why = "could not be restored"
					}
					warn("%s: not restored, its reference %s %s", p, r, why)
					break
				}
			}
		}
	}
	return ok
}
