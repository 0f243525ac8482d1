package storegc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixstore"
)

// Verify checks that a store is one the next build can use: every path the
// database holds is on disk, every buildpack root points to a valid path,
// and `nix-store --verify --check-contents` finds nothing wrong. It returns
// the problems found; err is for a store it cannot read at all.
func Verify(nix nixinstall.Nix) (problems []string, err error) {
	store, err := ReadStore(nix)
	if err != nil {
		return nil, err
	}
	for _, p := range sortedKeys(keysOf(store)) {
		if _, err := os.Lstat(filepath.Join(nix.Dir, "store", filepath.Base(p))); err != nil {
			problems = append(problems, fmt.Sprintf("%s is registered but missing on disk", p))
		}
	}
	r := rootsIn(nix.Dir)
	_ = filepath.Walk(r.dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			return nil
		}
		if target, err := os.Readlink(p); err == nil {
			if _, ok := store.Infos[target]; !ok {
				problems = append(problems, fmt.Sprintf("the GC root %s points to %s, which is not a valid store path", p, target))
			}
		}
		return nil
	})
	// Checked after the disk walk: without --repair, --verify forgets a
	// registered path it finds missing.
	out, err := nix.Store().VerifyContents()
	if err != nil {
		problems = append(problems, fmt.Sprintf("nix-store --verify --check-contents failed (%v): %s", errors.Unwrap(err), strings.TrimSpace(string(out))))
	} else {
		for _, line := range nixstore.ReadLines(out) {
			if strings.Contains(line, "disappeared") || strings.Contains(line, "modified") || strings.Contains(line, "error") {
				problems = append(problems, "nix-store --verify: "+line)
			}
		}
	}
	return problems, nil
}

func keysOf(s Store) map[string]bool {
	m := make(map[string]bool, len(s.Infos))
	for p := range s.Infos {
		m[p] = true
	}
	return m
}
