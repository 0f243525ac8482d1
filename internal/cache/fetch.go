package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// FetchResult is what Fetch did.
type FetchResult struct {
	// Installed are the paths now in the store directory, references
	// before referrers: register them in the Nix database in one batch
	// (FormatRegistration, then nix-store --register-validity --hash-given).
	Installed []PathInfo
	// Missing are wanted paths (asked for, or referred to by one) that are
	// neither in the store directory nor installed: build them.
	Missing []string
	// Warnings say why a path the cache has was not installed, or why the
	// cache could not be used. Cache misses are not warnings.
	Warnings []string
	// DownloadedBytes and NarBytes count the installed paths' stored and
	// unpacked sizes.
	DownloadedBytes int64
	NarBytes        int64
	Elapsed         time.Duration
}

// Fetch installs storePaths (full /nix/store/... paths) and the paths they
// refer to from the cache into storeDir, the directory on disk that holds
// the store (it may be mounted as /nix/store elsewhere). Paths already in
// storeDir count as valid and are left alone, as are the paths they refer
// to. Each NAR is unpacked into a hidden temporary directory, verified
// against its narinfo (and signatures, with Options.TrustedKeys) and only
// then renamed into place; a path is installed only with its references.
//
// Fetch never fails for what a cache or network does: such problems become
// Warnings and Missing paths, so the caller can build instead. An error
// means misuse (bad store path, missing storeDir) or a cancelled ctx.
func (c *Cache) Fetch(ctx context.Context, storePaths []string, storeDir string) (*FetchResult, error) {
	if fi, err := os.Stat(storeDir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("store directory %s is not a directory; pass the on-disk directory holding the store", storeDir)
	}
	for _, p := range storePaths {
		if err := checkStorePath(p); err != nil {
			return nil, fmt.Errorf("unable to fetch\n%w", err)
		}
	}
	f := &fetch{c: c, storeDir: storeDir, t: newTracker(c, "fetch"), r: newRetrier(c.opts.Attempts, c.opts.RetryDelay),
		present: map[string]bool{}, entries: map[string]*Entry{}}
	res, err := f.run(ctx, storePaths)
	if err != nil {
		return nil, err
	}
	res.Warnings = f.t.takeWarnings()
	res.Elapsed = time.Since(f.t.start)
	return res, nil
}

// fetch is the state of one Fetch call.
type fetch struct {
	c        *Cache
	storeDir string
	t        *tracker
	r        *retrier
	present  map[string]bool   // on disk before we started
	entries  map[string]*Entry // narinfos found and accepted
	wanted   []string          // asked for or referred to, not present, in discovery order
}

func (f *fetch) isPresent(p string) bool {
	if v, ok := f.present[p]; ok {
		return v
	}
	_, err := os.Lstat(filepath.Join(f.storeDir, filepath.Base(p)))
	f.present[p] = err == nil
	return f.present[p]
}

func (f *fetch) run(ctx context.Context, storePaths []string) (*FetchResult, error) {
	seen := map[string]bool{}
	var level []string
	for _, p := range storePaths {
		if !seen[p] && !f.isPresent(p) {
			seen[p] = true
			level = append(level, p)
		}
	}
	f.wanted = append(f.wanted, level...)
	res := &FetchResult{}
	if len(level) == 0 {
		return res, nil
	}
	if err := f.c.checkCacheInfo(ctx, f.r); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		f.t.warn("cache %s is not usable, so nothing is restored from it: %v", f.c, err)
		res.Missing = sortedRefs(f.wanted)
		return res, nil
	}
	if err := f.resolve(ctx, level, seen); err != nil {
		return nil, err
	}
	ok := f.closed(f.entries, "is not available from the cache")
	var todo []*Entry
	var download, unpacked int64
	for p := range ok {
		e := f.entries[p]
		todo = append(todo, e)
		download += int64(max(e.FileSize, 1))
		unpacked += int64(e.NarSize)
	}
	// Largest first, so the big transfers overlap with the many small ones.
	sort.Slice(todo, func(i, j int) bool { return todo[i].NarSize > todo[j].NarSize })
	f.c.logf("Fetching %d store paths (%s download, %s unpacked) from %s; %d of %d wanted paths not available",
		len(todo), mib(download), mib(unpacked), f.c, len(f.wanted)-len(todo), len(f.wanted))
	f.t.run(len(todo), download)
	tmps, err := f.download(ctx, todo)
	p := f.t.finish()
	if err != nil {
		return nil, err
	}
	got := map[string]*Entry{}
	for sp := range tmps {
		got[sp] = f.entries[sp]
	}
	final := f.closed(got, "could not be restored")
	var installed []PathInfo
	for sp, tmp := range tmps {
		if !final[sp] {
			_ = removeTree(tmp)
			continue
		}
		dst := filepath.Join(f.storeDir, filepath.Base(sp))
		if err := os.Rename(tmp, dst); err != nil {
			_ = removeTree(tmp)
			if _, serr := os.Lstat(dst); serr == nil {
				continue // installed meanwhile by someone else
			}
			f.t.warn("%s: unable to move into the store: %v", sp, err)
			continue
		}
		e := f.entries[sp]
		installed = append(installed, e.PathInfo)
		res.DownloadedBytes += int64(e.FileSize)
		res.NarBytes += int64(e.NarSize)
	}
	sort.Slice(installed, func(i, j int) bool { return installed[i].StorePath < installed[j].StorePath })
	res.Installed = topoSort(installed)
	done := map[string]bool{}
	for _, i := range res.Installed {
		done[i.StorePath] = true
	}
	for _, w := range f.wanted {
		if !done[w] {
			if _, err := os.Lstat(filepath.Join(f.storeDir, filepath.Base(w))); err != nil {
				res.Missing = append(res.Missing, w)
			}
		}
	}
	sort.Strings(res.Missing)
	f.c.logf("Fetched %d store paths (%s) in %.2f s, %s/s; %d missing",
		len(res.Installed), mib(res.DownloadedBytes), p.Elapsed.Seconds(), mib(int64(float64(res.DownloadedBytes)/max(p.Elapsed.Seconds(), 1e-9))), len(res.Missing))
	return res, nil
}

// resolve looks up the narinfos of level and, breadth first, of every path
// they refer to that is not on disk yet.
func (f *fetch) resolve(ctx context.Context, level []string, seen map[string]bool) error {
	for len(level) > 0 {
		entries := make([]*Entry, len(level))
		errs := make([]error, len(level))
		parallel(32, len(level), func(i int) {
			entries[i], errs[i] = f.c.lookup(ctx, f.r, level[i])
		})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var next []string
		down := 0
		for i, p := range level {
			switch {
			case errs[i] == nil:
				f.entries[p] = entries[i]
				for _, r := range entries[i].References {
					if !seen[r] && !f.isPresent(r) {
						seen[r] = true
						next = append(next, r)
					}
				}
			case errors.Is(errs[i], errNotFound):
			case errors.Is(errs[i], errCacheDown):
				down++
			default:
				f.t.warn("%s: %v; treating it as missing", p, errs[i])
			}
		}
		if down > 0 {
			f.t.warn("%d more paths not looked up: %v", down, errCacheDown)
		}
		f.wanted = append(f.wanted, next...)
		level = next
	}
	return nil
}

// download fetches the NARs of todo, Options.Jobs at a time, and returns the
// temporary paths of those that arrived intact.
func (f *fetch) download(ctx context.Context, todo []*Entry) (map[string]string, error) {
	var mu sync.Mutex
	tmps := map[string]string{}
	down := 0
	parallel(f.c.opts.Jobs, len(todo), func(i int) {
		e := todo[i]
		var tmp string
		err := f.r.do(ctx, func() error {
			var err error
			tmp, err = fetchNAR(ctx, f.c.b, e, f.storeDir, &f.t.bytes)
			return err
		})
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			tmps[e.StorePath] = tmp
			f.t.paths.Add(1)
		case errors.Is(err, errCacheDown):
			down++
		case ctx.Err() == nil:
			f.t.warn("%s: %v; treating it as missing", e.StorePath, err)
		}
	})
	if err := ctx.Err(); err != nil {
		for _, tmp := range tmps {
			_ = removeTree(tmp)
		}
		return nil, err
	}
	if down > 0 {
		f.t.warn("%d more paths not downloaded: %v", down, errCacheDown)
	}
	return tmps, nil
}

// closed returns the paths of have whose references are all on disk or in
// the returned set itself, warning about each path left out: registering a
// path without its references would fail.
func (f *fetch) closed(have map[string]*Entry, why string) map[string]bool {
	ok := make(map[string]bool, len(have))
	for p := range have {
		ok[p] = true
	}
	for changed := true; changed; {
		changed = false
		for p := range ok {
			for _, r := range have[p].References {
				if r != p && !ok[r] && !f.isPresent(r) {
					delete(ok, p)
					changed = true
					f.t.warn("%s: not restored, its reference %s %s", p, r, why)
					break
				}
			}
		}
	}
	return ok
}

// parallel calls fn(0..n-1) with at most jobs calls running at once.
func parallel(jobs, n int, fn func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(jobs, 1))
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}
