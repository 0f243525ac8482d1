package cache

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/cache/backend"
	"github.com/nix-buildpack/nix-buildpack/internal/cache/retry"
	"github.com/nix-buildpack/nix-buildpack/internal/cache/storedir"
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
)

// List returns the entries of every narinfo in the cache, sorted by store
// path. Only s3:// and file:// caches can be listed. Narinfos that do not
// parse are left out with a log warning (Verify reports them).
func (c *Cache) List(ctx context.Context) ([]narinfo.NarInfo, error) {
	r := retry.New(c.opts.Attempts, c.opts.RetryDelay)
	keys, err := c.narinfoKeys(ctx, r)
	if err != nil {
		return nil, err
	}
	entries, errs := c.readNarinfos(ctx, r, keys)
	var out []narinfo.NarInfo
	for i, e := range entries {
		if errs[i] != nil {
			c.logf("warning: %s: %v", keys[i], errs[i])
			continue
		}
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StorePath < out[j].StorePath })
	return out, ctx.Err()
}

// Problem is one bad cache entry found by Verify.
type Problem struct {
	Key       string // the narinfo's key in the cache
	StorePath string // "" when the narinfo does not parse
	Reason    string
}

// VerifyResult is what Verify found.
type VerifyResult struct {
	Checked int
	Bytes   int64 // NAR bytes downloaded
	Bad     []Problem
	Elapsed time.Duration
}

// Verify downloads every NAR of the cache and checks it against its
// narinfo (FileSize, FileHash, NarSize, NarHash, a well-formed NAR), that
// every reference has a narinfo, and, with Options.TrustedKeys, the
// signatures. It returns an error only when the cache cannot be listed.
func (c *Cache) Verify(ctx context.Context) (*VerifyResult, error) {
	start := time.Now()
	r := retry.New(c.opts.Attempts, c.opts.RetryDelay)
	keys, err := c.narinfoKeys(ctx, r)
	if err != nil {
		return nil, err
	}
	entries, errs := c.readNarinfos(ctx, r, keys)
	known := map[string]bool{}
	for _, e := range entries {
		if e != nil {
			known[e.StorePath] = true
		}
	}
	t := newTracker(c, "verify")
	var total int64
	for _, e := range entries {
		if e != nil {
			total += int64(e.FileSize)
		}
	}
	t.addTotal(len(keys), total)
	t.run()
	res := &VerifyResult{Checked: len(keys)}
	var mu sync.Mutex
	bad := func(i int, format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		p := Problem{Key: keys[i], Reason: fmt.Sprintf(format, args...)}
		if entries[i] != nil {
			p.StorePath = entries[i].StorePath
		}
		res.Bad = append(res.Bad, p)
	}
	parallel(c.opts.Jobs, len(keys), func(i int) {
		defer t.paths.Add(1)
		e := entries[i]
		if errs[i] != nil {
			bad(i, "%v", errs[i])
			return
		}
		if narinfo.HashPart(e.StorePath)+".narinfo" != keys[i] {
			bad(i, "describes %s, which belongs in %s.narinfo", e.StorePath, narinfo.HashPart(e.StorePath))
		}
		if len(c.trusted) > 0 && !c.trusted.Signed(e.Fingerprint(), e.Signatures) {
			bad(i, "not signed by a trusted key")
		}
		for _, ref := range e.References {
			if !known[ref] {
				bad(i, "its reference %s has no narinfo in the cache", ref)
			}
		}
		err := r.Do(ctx, func() error { return verifyNAR(ctx, c.b, e, &t.bytes) })
		if err != nil {
			bad(i, "%v", err)
		}
	})
	t.finish()
	res.Bytes = t.bytes.Load()
	res.Elapsed = time.Since(start)
	sort.Slice(res.Bad, func(i, j int) bool { return res.Bad[i].Key < res.Bad[j].Key })
	return res, ctx.Err()
}

func (c *Cache) narinfoKeys(ctx context.Context, r *retry.Retrier) ([]string, error) {
	var keys []string
	err := r.Do(ctx, func() error {
		keys = keys[:0]
		return c.b.List(ctx, func(key string) error {
			if strings.HasSuffix(key, ".narinfo") {
				keys = append(keys, key)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("unable to list %s\n%w", c, err)
	}
	sort.Strings(keys)
	return keys, nil
}

func (c *Cache) readNarinfos(ctx context.Context, r *retry.Retrier, keys []string) ([]*narinfo.NarInfo, []error) {
	entries := make([]*narinfo.NarInfo, len(keys))
	errs := make([]error, len(keys))
	parallel(32, len(keys), func(i int) {
		var data []byte
		errs[i] = r.Do(ctx, func() error {
			body, err := c.b.Get(ctx, keys[i])
			if err != nil {
				return err
			}
			defer body.Close()
			data, err = readAllLimited(body, 8<<20)
			return err
		})
		if errs[i] == nil {
			entries[i], errs[i] = narinfo.Parse(data)
		}
	})
	return entries, errs
}

// verifyNAR downloads e's NAR and checks it without unpacking it
// (storedir.Check).
func verifyNAR(ctx context.Context, b backend.Backend, e *narinfo.NarInfo, downloaded *atomic.Int64) error {
	body, err := b.Get(ctx, e.URL)
	if errors.Is(err, backend.ErrNotFound) {
		return backend.Permanentf("its NAR %s is missing", e.URL)
	}
	if err != nil {
		return err
	}
	defer body.Close()
	return storedir.Check(body, e, downloaded)
}
