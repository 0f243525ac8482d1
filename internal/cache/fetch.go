package cache

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/cache/backend"
	"github.com/nix-buildpack/nix-buildpack/internal/cache/retry"
	"github.com/nix-buildpack/nix-buildpack/internal/cache/storedir"
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
	"github.com/nix-buildpack/nix-buildpack/internal/tree"
)

// FetchResult is what Fetch did.
type FetchResult struct {
	// Installed are the paths now in the store directory, references
	// before referrers: register them in the Nix database in one batch
	// (FormatRegistration, then nix-store --load-db: Fetch gave every file
	// the store's modes and mtime already).
	Installed []narinfo.PathInfo
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
// refer to from the cache into the store. Paths the store's database holds
// as valid are left alone, as are the paths they refer to; a path on disk
// that is not valid (a restore killed before registering it) is fetched
// again and replaces what is there. Each NAR is unpacked into a hidden
// temporary directory, verified against its narinfo (and signatures, with
// Options.TrustedKeys) and only then renamed into place; a path is
// installed only with its references. Temporary directories left by killed
// restores are removed first.
//
// Fetch never fails for what a cache or network does: such problems become
// Warnings and Missing paths, so the caller can build instead. An error
// means misuse (bad store path, missing store directory), a database that
// cannot be queried, or a cancelled ctx.
func (c *Cache) Fetch(ctx context.Context, storePaths []string, store storedir.Store) (*FetchResult, error) {
	if fi, err := os.Stat(store.Dir()); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("store directory %s is not a directory; pass the on-disk directory holding the store", store.Dir())
	}
	for _, p := range storePaths {
		if err := narinfo.CheckStorePath(p); err != nil {
			return nil, fmt.Errorf("unable to fetch\n%w", err)
		}
	}
	f := &fetch{c: c, store: store, storeDir: store.Dir(), t: newTracker(c, "fetch"), r: retry.New(c.opts.Attempts, c.opts.RetryDelay),
		present: map[string]bool{}, entries: map[string]*narinfo.NarInfo{}}
	unlock, err := storedir.Lock(store.Dir(), c.logf, f.t.warn)
	if err != nil {
		return nil, err
	}
	defer unlock()
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
	store    storedir.Store
	storeDir string
	t        *tracker
	r        *retry.Retrier
	present  map[string]bool // valid before we started; resolve's goroutine only

	mu      sync.Mutex
	entries map[string]*narinfo.NarInfo // narinfos found and accepted
	wanted  []string                    // asked for or referred to, not present, in discovery order
}

// notPresent returns the paths of ps not seen before that the store does
// not hold as valid (storedir.Present), remembering the answer for each.
func (f *fetch) notPresent(ps []string) ([]string, error) {
	var fresh []string
	for _, p := range ps {
		if _, ok := f.present[p]; ok {
			continue
		}
		f.present[p] = false
		fresh = append(fresh, p)
	}
	valid, err := storedir.Present(f.store, fresh)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range fresh {
		f.present[p] = valid[p]
		if !valid[p] {
			out = append(out, p)
		}
	}
	return out, nil
}

// isPresent reports whether p was valid when looked up; a path never looked
// up counts as absent.
func (f *fetch) isPresent(p string) bool { return f.present[p] }

func (f *fetch) run(ctx context.Context, storePaths []string) (*FetchResult, error) {
	level, err := f.notPresent(storePaths)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, p := range level {
		seen[p] = true
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
		res.Missing = slices.Sorted(slices.Values(f.wanted))
		return res, nil
	}
	f.c.logf("Fetching %d store paths and what they refer to from %s", len(level), f.c)
	// NARs download while narinfos are still being looked up: a queue, the
	// largest NAR first, so big transfers overlap with the many small ones.
	q := newNARQueue()
	f.t.run()
	var tmps map[string]string
	done := make(chan struct{})
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(done)
		tmps = f.download(dctx, q)
	}()
	rerr := f.resolve(dctx, level, seen, q)
	if rerr != nil {
		cancel()
	}
	q.close()
	<-done
	p := f.t.finish()
	if err := cmp.Or(rerr, ctx.Err()); err != nil {
		for _, tmp := range tmps {
			_ = tree.Remove(tmp)
		}
		return nil, err
	}
	if err := f.installAll(res, tmps); err != nil {
		return nil, err
	}
	f.c.logf("Fetched %d store paths (%s, %s unpacked) in %.2f s, %s/s; %d of %d wanted paths missing",
		len(res.Installed), mib(res.DownloadedBytes), mib(res.NarBytes), p.Elapsed.Seconds(),
		mib(int64(float64(res.DownloadedBytes)/max(p.Elapsed.Seconds(), 1e-9))), len(res.Missing), len(f.wanted))
	return res, nil
}

// installAll installs the downloaded paths whose references are all there
// (storedir.Install) and fills res: what was installed, its sizes, and the
// wanted paths still missing.
func (f *fetch) installAll(res *FetchResult, tmps map[string]string) error {
	installed, present, err := storedir.Install(f.store, tmps, f.entries, f.isPresent, f.c.logf, f.t.warn)
	if err != nil {
		return err
	}
	for _, sp := range present {
		f.present[sp] = true
	}
	installedSet := map[string]bool{}
	for _, info := range installed {
		e := f.entries[info.StorePath]
		res.DownloadedBytes += int64(e.FileSize)
		res.NarBytes += int64(e.NarSize)
		installedSet[info.StorePath] = true
	}
	res.Installed = installed
	for _, w := range f.wanted {
		if !installedSet[w] && !f.isPresent(w) {
			res.Missing = append(res.Missing, w)
		}
	}
	sort.Strings(res.Missing)
	return nil
}

// resolve looks up the narinfos of level and, breadth first, of every path
// they refer to that is not on disk yet, queueing each accepted path.
func (f *fetch) resolve(ctx context.Context, level []string, seen map[string]bool, q *narQueue) error {
	for len(level) > 0 && ctx.Err() == nil {
		var mu sync.Mutex
		var next []string
		down := 0
		parallel(32, len(level), func(i int) {
			p := level[i]
			e, err := f.c.lookup(ctx, f.r, p)
			if err == nil {
				f.mu.Lock()
				f.entries[p] = e
				f.mu.Unlock()
				f.t.addTotal(1, int64(max(e.FileSize, 1)))
				q.push(e)
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				next = append(next, e.References...)
			case errors.Is(err, backend.ErrNotFound), ctx.Err() != nil:
			case errors.Is(err, retry.ErrDown):
				down++
			default:
				f.t.warn("%s: %v; treating it as missing", p, err)
			}
		})
		if down > 0 {
			f.t.warn("%d more paths not looked up: %v", down, retry.ErrDown)
		}
		var refs []string
		for _, r := range next {
			if !seen[r] {
				seen[r] = true
				refs = append(refs, r)
			}
		}
		var err error
		if level, err = f.notPresent(refs); err != nil {
			return err
		}
		f.wanted = append(f.wanted, level...)
	}
	return nil
}

// download fetches the queued NARs, Options.Jobs at a time, and returns
// the temporary paths of those that arrived intact.
func (f *fetch) download(ctx context.Context, q *narQueue) map[string]string {
	var mu sync.Mutex
	tmps := map[string]string{}
	down := 0
	var wg sync.WaitGroup
	for range f.c.opts.Jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := q.pop(); e != nil; e = q.pop() {
				if ctx.Err() != nil {
					continue
				}
				var tmp string
				err := f.r.Do(ctx, func() error {
					var err error
					tmp, err = fetchNAR(ctx, f.c.b, e, f.storeDir, &f.t.bytes)
					return err
				})
				mu.Lock()
				switch {
				case err == nil:
					tmps[e.StorePath] = tmp
					f.t.paths.Add(1)
				case errors.Is(err, retry.ErrDown):
					down++
				case ctx.Err() == nil:
					f.t.warn("%s: %v; treating it as missing", e.StorePath, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if down > 0 {
		f.t.warn("%d more paths not downloaded: %v", down, retry.ErrDown)
	}
	return tmps
}

// fetchNAR downloads e's NAR once and unpacks it, checked, beside its
// final place in storeDir (storedir.Unpack), returning the temporary path.
func fetchNAR(ctx context.Context, b backend.Backend, e *narinfo.NarInfo, storeDir string, downloaded *atomic.Int64) (string, error) {
	body, err := b.Get(ctx, e.URL)
	if errors.Is(err, backend.ErrNotFound) {
		return "", backend.Permanentf("its NAR %s is missing from the cache", e.URL)
	}
	if err != nil {
		return "", err
	}
	defer body.Close()
	return storedir.Unpack(ctx, body, e, storeDir, downloaded)
}

// narQueue hands narinfo-checked paths to the download workers, the
// largest NAR first.
type narQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	items  []*narinfo.NarInfo // a max-heap by NarSize
	closed bool
}

func newNARQueue() *narQueue {
	q := &narQueue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *narQueue) Len() int           { return len(q.items) }
func (q *narQueue) Less(i, j int) bool { return q.items[i].NarSize > q.items[j].NarSize }
func (q *narQueue) Swap(i, j int)      { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *narQueue) Push(x any)         { q.items = append(q.items, x.(*narinfo.NarInfo)) }
func (q *narQueue) Pop() any {
	e := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return e
}

func (q *narQueue) push(e *narinfo.NarInfo) {
	q.mu.Lock()
	heap.Push(q, e)
	q.mu.Unlock()
	q.cond.Signal()
}

// close says no more paths will come; pop drains what is left.
func (q *narQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// pop waits for the largest queued path; nil once closed and empty.
func (q *narQueue) pop() *narinfo.NarInfo {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.closed {
		q.cond.Wait()
	}
	if len(q.items) == 0 {
		return nil
	}
	return heap.Pop(q).(*narinfo.NarInfo)
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
