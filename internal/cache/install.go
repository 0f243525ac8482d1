package cache

import (
	"os"
	"path/filepath"
	"sort"

	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
	"github.com/nix-buildpack/nix-buildpack/internal/tree"
)

// install renames the verified temporary trees of the paths in final into
// the store and returns their PathInfos, references before referrers, to
// register. The other trees are removed.
//
// A rename fails when the store path is already on disk. If the database
// holds it as valid, someone else installed it meanwhile and it is left
// alone. If not, it is what a restore killed between its renames and its
// registration left (or a half-written build output): its contents were
// never checked, so it is removed and the verified tree takes its place.
func (f *fetch) install(tmps map[string]string, final map[string]bool) ([]narinfo.PathInfo, error) {
	var installed []narinfo.PathInfo
	var taken []string
	for sp, tmp := range tmps {
		if !final[sp] {
			_ = tree.Remove(tmp)
			continue
		}
		if err := os.Rename(tmp, f.dst(sp)); err != nil {
			if _, serr := os.Lstat(f.dst(sp)); serr == nil {
				taken = append(taken, sp)
				continue
			}
			_ = tree.Remove(tmp)
			f.t.warn("%s: unable to move into the store: %v", sp, err)
			continue
		}
		installed = append(installed, f.entries[sp].PathInfo)
	}
	if len(taken) > 0 {
		sort.Strings(taken)
		valid, err := validSet(f.store, taken)
		if err != nil {
			for _, sp := range taken {
				_ = tree.Remove(tmps[sp])
			}
			return nil, err
		}
		for _, sp := range taken {
			tmp := tmps[sp]
			if valid[sp] {
				f.present[sp] = true
				_ = tree.Remove(tmp)
				continue
			}
			f.c.logf("Replacing %s: it is on disk but not valid in the Nix database (an interrupted restore or build left it)", sp)
			err := tree.Remove(f.dst(sp))
			if err == nil {
				err = os.Rename(tmp, f.dst(sp))
			}
			if err != nil {
				_ = tree.Remove(tmp)
				f.t.warn("%s: unable to replace the unregistered copy in the store: %v", sp, err)
				continue
			}
			installed = append(installed, f.entries[sp].PathInfo)
		}
	}
	sort.Slice(installed, func(i, j int) bool { return installed[i].StorePath < installed[j].StorePath })
	return narinfo.ReferencesFirst(installed), nil
}

func (f *fetch) dst(storePath string) string {
	return filepath.Join(f.storeDir, filepath.Base(storePath))
}
