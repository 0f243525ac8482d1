package caching

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/cache/storedir"
	"github.com/nix-buildpack/nix-buildpack/internal/closure"
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// PlainStore is a directory holding store paths restored from caches
// without Nix: dir/store/<hash>-name, and dir/registration, the records
// (NAR hash, references) of every path in it, in the registration format
// nix-store --dump-db prints. It needs no Nix database, so it serves a
// target that does not run Nix (a relocated slug).
type PlainStore struct {
	Dir string
}

// StoreDir is the directory holding the store paths.
func (s PlainStore) StoreDir() string { return filepath.Join(s.Dir, "store") }

func (s PlainStore) registration() string { return filepath.Join(s.Dir, "registration") }

// PlainRestored is what RestoreByPointer found: the output named by the source
// pointer and its whole runtime closure, present in the store.
type PlainRestored struct {
	Output string
	// Closure is the output's runtime closure, sorted.
	Closure []string
	// Graph is the closure's records, from the caches' narinfos.
	Graph closure.Graph
	// Bytes is what was downloaded.
	Bytes int64
}

// RestoreByPointer restores the output the caches' source pointer for
// digest names, and its closure, into s, with no Nix: NARs are verified as
// Fetch verifies them, and the records kept in s.registration. It returns
// nil when no cache has a pointer for this source or the closure cannot be
// completed (the caller then runs Nix), and under the policy always.
func (c Caches) RestoreByPointer(ctx context.Context, s PlainStore, digest string, log io.Writer) (*PlainRestored, error) {
	if c.Policy == settings.BuildAlways || !c.Any() || digest == "" {
		return nil, nil
	}
	infos, err := s.load()
	if err != nil {
		return nil, err
	}
	for _, ch := range c.All() {
		ptr, err := ch.ReadPointer(ctx, digest)
		if err != nil {
			fmt.Fprintf(log, "warning: %v\n", err)
			continue
		}
		if ptr == nil {
			continue
		}
		res := &PlainRestored{Output: ptr.Output}
		for _, from := range c.All() {
			if complete(ptr.Output, infos) {
				break
			}
			r, err := from.Fetch(ctx, []string{ptr.Output}, s.cacheStore(infos))
			if err != nil {
				fmt.Fprintf(log, "warning: fetching from %s: %v\n", from, err)
				continue
			}
			for _, info := range r.Installed {
				infos[info.StorePath] = info
			}
			if err := s.save(infos); err != nil {
				return nil, err
			}
			res.Bytes += r.DownloadedBytes
			if len(r.Installed) > 0 {
				fmt.Fprintf(log, "Restored %d store paths (%s downloaded) from %s in %s\n", len(r.Installed),
					humanBytes(r.DownloadedBytes), from, r.Elapsed.Round(1e6))
			}
		}
		if !complete(ptr.Output, infos) {
			fmt.Fprintf(log, "warning: the caches do not hold the whole closure of %s, which the source pointer names\n", ptr.Output)
			continue
		}
		res.Closure = closureOf(ptr.Output, infos)
		list := make([]narinfo.PathInfo, len(res.Closure))
		for i, p := range res.Closure {
			list[i] = infos[p]
		}
		res.Graph = closure.GraphOf(list)
		return res, nil
	}
	return nil, nil
}

// closureOf is path and everything it refers to, sorted.
func closureOf(path string, infos map[string]narinfo.PathInfo) []string {
	seen := map[string]bool{path: true}
	queue := []string{path}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, r := range infos[p].References {
			if !seen[r] {
				seen[r] = true
				queue = append(queue, r)
			}
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// complete reports whether path's whole closure is recorded (and so, by
// load's invariant, on disk).
func complete(path string, infos map[string]narinfo.PathInfo) bool {
	for _, p := range closureOf(path, infos) {
		if _, ok := infos[p]; !ok {
			return false
		}
	}
	return true
}

// load reads the records and removes what the store holds without one: a
// path renamed into place by a Fetch that was interrupted before its
// record was saved, or Fetch's own leftovers.
func (s PlainStore) load() (map[string]narinfo.PathInfo, error) {
	if err := os.MkdirAll(s.StoreDir(), 0o755); err != nil {
		return nil, fmt.Errorf("unable to create %s\n%w", s.StoreDir(), err)
	}
	infos := map[string]narinfo.PathInfo{}
	data, err := os.ReadFile(s.registration())
	if err == nil {
		list, perr := narinfo.ParseRegistration(bytes.NewReader(data))
		if perr != nil {
			list = nil // unreadable: start again from an empty store
		}
		for _, info := range list {
			infos[info.StorePath] = info
		}
	} else if !os.IsNotExist(err) {
		return nil, fmt.Errorf("unable to read %s\n%w", s.registration(), err)
	}
	entries, err := os.ReadDir(s.StoreDir())
	if err != nil {
		return nil, fmt.Errorf("unable to read %s\n%w", s.StoreDir(), err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue // Fetch's lock and leftovers: Fetch sweeps them
		}
		if _, ok := infos[narinfo.StoreDir+"/"+e.Name()]; !ok {
			if err := removeTree(filepath.Join(s.StoreDir(), e.Name())); err != nil {
				return nil, err
			}
		}
	}
	for p := range infos {
		if _, err := os.Lstat(filepath.Join(s.StoreDir(), filepath.Base(p))); err != nil {
			delete(infos, p)
		}
	}
	return infos, nil
}

// cacheStore is s as Fetch sees it: a path is valid when s records it.
func (s PlainStore) cacheStore(infos map[string]narinfo.PathInfo) storedir.Store {
	return recorded{dir: s.StoreDir(), infos: infos}
}

// recorded is a store directory whose valid paths are those with a record.
type recorded struct {
	dir   string
	infos map[string]narinfo.PathInfo
}

func (r recorded) Dir() string { return r.dir }

func (r recorded) Valid(paths []string) (map[string]bool, error) {
	valid := map[string]bool{}
	for _, p := range paths {
		if _, ok := r.infos[p]; ok {
			valid[p] = true
		}
	}
	return valid, nil
}

// save writes the records atomically, references before referrers.
func (s PlainStore) save(infos map[string]narinfo.PathInfo) error {
	list := make([]narinfo.PathInfo, 0, len(infos))
	for _, info := range infos {
		list = append(list, info)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].StorePath < list[j].StorePath })
	var buf bytes.Buffer
	if err := narinfo.FormatRegistration(&buf, list); err != nil {
		return err
	}
	tmp := s.registration() + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("unable to write %s\n%w", tmp, err)
	}
	if err := os.Rename(tmp, s.registration()); err != nil {
		return fmt.Errorf("unable to write %s\n%w", s.registration(), err)
	}
	return nil
}

// removeTree removes a store path tree, whose directories are read-only.
func removeTree(dir string) error {
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("unable to remove %s\n%w", dir, err)
	}
	return nil
}

// Keep removes every path but keep (and its record), so that the store
// holds one closure however many deploys it served.
func (s PlainStore) Keep(keep []string) error {
	infos, err := s.load()
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, p := range keep {
		want[p] = true
	}
	for p := range infos {
		if !want[p] {
			delete(infos, p)
		}
	}
	if err := s.save(infos); err != nil {
		return err
	}
	_, err = s.load() // removes what no record names now
	return err
}
