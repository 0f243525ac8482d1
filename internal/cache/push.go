package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// PushResult is what Push did.
type PushResult struct {
	Uploaded      int      // paths whose narinfo Push wrote
	UploadedBytes int64    // compressed NAR bytes sent
	NarBytes      int64    // uncompressed size of the uploaded paths
	Skipped       int      // paths the cache already had
	Failed        []string // paths not uploaded; Warnings say why
	Warnings      []string
	Elapsed       time.Duration
}

// Push uploads the paths of infos the cache lacks, reading them from
// storeDir (the on-disk directory holding the store). infos should be a
// closure, as from `nix-store --dump-db $(nix-store -qR ...)`. Each path is
// serialised, checked against its NarHash and NarSize (a path whose disk
// contents differ is refused), compressed, and uploaded NAR first, narinfo
// last, after the narinfos of its references, so a reader never sees a
// narinfo without its NAR or its references. Narinfos are signed with
// Options.SecretKey when set. nix-cache-info is written if absent.
//
// Like Fetch, Push turns cache and network problems into Warnings and
// Failed paths; an error means misuse or a cancelled ctx.
func (c *Cache) Push(ctx context.Context, infos []PathInfo, storeDir string) (*PushResult, error) {
	if fi, err := os.Stat(storeDir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("store directory %s is not a directory; pass the on-disk directory holding the store", storeDir)
	}
	byPath := map[string]*PathInfo{}
	for i := range infos {
		if err := infos[i].validate(); err != nil {
			return nil, fmt.Errorf("unable to push\n%w", err)
		}
		byPath[infos[i].StorePath] = &infos[i]
	}
	t := newTracker(c, "push")
	r := newRetrier(c.opts.Attempts, c.opts.RetryDelay)
	res := &PushResult{}
	finish := func() (*PushResult, error) {
		sort.Strings(res.Failed)
		res.Warnings = t.takeWarnings()
		res.Elapsed = time.Since(t.start)
		return res, ctx.Err()
	}
	if err := c.ensureCacheInfo(ctx, r); err != nil {
		t.warn("cache %s is not usable, so nothing is pushed: %v", c, err)
		for p := range byPath {
			res.Failed = append(res.Failed, p)
		}
		return finish()
	}

	paths := make([]string, 0, len(byPath))
	for p := range byPath {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	have := make([]bool, len(paths))
	errs := make([]error, len(paths))
	parallel(32, len(paths), func(i int) {
		errs[i] = r.do(ctx, func() error {
			var err error
			have[i], err = c.b.exists(ctx, hashPart(paths[i])+".narinfo")
			return err
		})
	})
	var todo []PathInfo
	for i, p := range paths {
		switch {
		case errs[i] != nil:
			t.warn("%s: unable to check the cache: %v", p, errs[i])
			res.Failed = append(res.Failed, p)
		case have[i]:
			res.Skipped++
		default:
			todo = append(todo, *byPath[p])
		}
	}
	todo = topoSort(todo)
	var narTotal int64
	for _, info := range todo {
		narTotal += int64(info.NarSize)
	}
	c.logf("Pushing %d store paths (%s unpacked) to %s; %d already there", len(todo), mib(narTotal), c, res.Skipped)
	t.addTotal(len(todo), narTotal)
	t.run()

	// done[p] is closed once p's narinfo is written (ok[p]) or has failed.
	done := map[string]chan struct{}{}
	ok := map[string]bool{}
	for _, info := range todo {
		done[info.StorePath] = make(chan struct{})
	}
	var mu sync.Mutex
	parallel(c.opts.Jobs, len(todo), func(i int) {
		info := &todo[i]
		sent, err := c.pushOne(ctx, r, info, storeDir, func(ref string) bool {
			ch, pending := done[ref]
			if !pending {
				return true // in the cache already
			}
			<-ch
			mu.Lock()
			defer mu.Unlock()
			return ok[ref]
		})
		mu.Lock()
		if err == nil {
			ok[info.StorePath] = true
			res.Uploaded++
			res.UploadedBytes += sent
			res.NarBytes += int64(info.NarSize)
		} else {
			res.Failed = append(res.Failed, info.StorePath)
			if ctx.Err() == nil {
				t.warn("%s: not pushed: %v", info.StorePath, err)
			}
		}
		mu.Unlock()
		close(done[info.StorePath])
		t.paths.Add(1)
		t.bytes.Add(int64(info.NarSize))
	})
	p := t.finish()
	c.logf("Pushed %d store paths (%s compressed) in %.2f s; %d skipped, %d failed",
		res.Uploaded, mib(res.UploadedBytes), p.Elapsed.Seconds(), res.Skipped, len(res.Failed))
	return finish()
}

// pushOne uploads one path: NAR, then (once refOK says each reference made
// it) its narinfo. It returns the compressed bytes sent.
func (c *Cache) pushOne(ctx context.Context, r *retrier, info *PathInfo, storeDir string, refOK func(string) bool) (int64, error) {
	dir := filepath.Join(storeDir, filepath.Base(info.StorePath))
	if _, err := os.Lstat(dir); err != nil {
		return 0, fmt.Errorf("it is not in %s", storeDir)
	}
	packed, err := packNAR(dir, info.NarSize, c.compression)
	if err != nil {
		return 0, err
	}
	defer packed.cleanup()
	want, _ := normalizeNarHash(info.NarHash)
	if packed.narHash != want || uint64(packed.narSize) != info.NarSize {
		return 0, fmt.Errorf("its contents in %s do not match the Nix database (NAR hash %s, %d bytes; expected %s, %d bytes)",
			storeDir, packed.narHash, packed.narSize, want, info.NarSize)
	}
	narKey := narFileName(packed.fileHash, c.compression)
	var sent int64
	err = r.do(ctx, func() error {
		exists, err := c.b.exists(ctx, narKey)
		if err != nil || exists {
			return err
		}
		if _, err := packed.body.Seek(0, io.SeekStart); err != nil {
			return permanent(err)
		}
		if err := c.b.put(ctx, narKey, packed.body, packed.fileSize, "application/x-nix-nar"); err != nil {
			return err
		}
		sent = packed.fileSize
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, ref := range info.References {
		if ref != info.StorePath && !refOK(ref) {
			return sent, fmt.Errorf("its reference %s was not pushed", ref)
		}
	}
	e := &Entry{PathInfo: *info, URL: narKey, Compression: c.compression,
		FileHash: packed.fileHash, FileSize: uint64(packed.fileSize)}
	e.NarHash = want
	e.References = sortedRefs(info.References)
	if c.opts.SecretKey != nil {
		sig, err := c.opts.SecretKey.sign(&e.PathInfo)
		if err != nil {
			return sent, err
		}
		e.Signatures = []string{sig}
	}
	text := e.format()
	err = r.do(ctx, func() error {
		return c.b.put(ctx, hashPart(info.StorePath)+".narinfo", strings.NewReader(text), int64(len(text)), "text/x-nix-narinfo")
	})
	return sent, err
}

// ensureCacheInfo checks that the cache is usable for /nix/store and writes
// nix-cache-info when it is missing.
func (c *Cache) ensureCacheInfo(ctx context.Context, r *retrier) error {
	info, err := c.readCacheInfo(ctx, r)
	if err == nil {
		if info.storeDir != "" && info.storeDir != StoreDir {
			return fmt.Errorf("its nix-cache-info says StoreDir %s, not %s", info.storeDir, StoreDir)
		}
		return nil
	}
	if !errors.Is(err, errNotFound) {
		return err
	}
	text := fmt.Sprintf("StoreDir: %s\nWantMassQuery: 1\nPriority: %d\n", StoreDir, c.priority)
	return r.do(ctx, func() error {
		return c.b.put(ctx, "nix-cache-info", strings.NewReader(text), int64(len(text)), "text/x-nix-cache-info")
	})
}
