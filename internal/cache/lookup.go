package cache

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/nix-buildpack/nix-buildpack/internal/cache/backend"
	"github.com/nix-buildpack/nix-buildpack/internal/cache/retry"
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
)

// cacheInfo is the parsed nix-cache-info file at a cache's root.
type cacheInfo struct {
	storeDir string
}

// readCacheInfo fetches nix-cache-info. It is the first request of every
// operation, so a missing bucket, wrong credentials or a dead server show up
// once, here, and not once per path. backend.ErrNotFound means an empty cache.
func (c *Cache) readCacheInfo(ctx context.Context, r *retry.Retrier) (*cacheInfo, error) {
	var data []byte
	err := r.Do(ctx, func() error {
		body, err := c.b.Get(ctx, "nix-cache-info")
		if err != nil {
			return err
		}
		defer body.Close()
		data, err = readAllLimited(body, 64<<10)
		return err
	})
	if err != nil {
		return nil, err
	}
	info := &cacheInfo{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == "StoreDir" {
			info.storeDir = strings.TrimSpace(v)
		}
	}
	return info, nil
}

// checkCacheInfo makes sure the cache can be read and holds paths for
// /nix/store; a cache without nix-cache-info counts as empty but usable.
func (c *Cache) checkCacheInfo(ctx context.Context, r *retry.Retrier) error {
	info, err := c.readCacheInfo(ctx, r)
	if errors.Is(err, backend.ErrNotFound) {
		c.logf("%s has no nix-cache-info yet; treating it as empty", c)
		return nil
	}
	if err != nil {
		return err
	}
	if info.storeDir != "" && info.storeDir != narinfo.StoreDir {
		return fmt.Errorf("its nix-cache-info says StoreDir %s, not %s", info.storeDir, narinfo.StoreDir)
	}
	return nil
}

// lookup fetches and checks the narinfo of storePath: it must parse, name
// that path, and, when trusted keys are set, carry a signature by one.
func (c *Cache) lookup(ctx context.Context, r *retry.Retrier, storePath string) (*narinfo.NarInfo, error) {
	if e, ok := c.found.Load(storePath); ok {
		return e.(*narinfo.NarInfo), nil
	}
	key := narinfo.HashPart(storePath) + ".narinfo"
	var data []byte
	err := r.Do(ctx, func() error {
		body, err := c.b.Get(ctx, key)
		if err != nil {
			return err
		}
		defer body.Close()
		data, err = readAllLimited(body, 8<<20)
		return err
	})
	if err != nil {
		return nil, err
	}
	e, err := narinfo.Parse(data)
	if err != nil {
		return nil, backend.Permanentf("%s: %v", key, err)
	}
	if e.StorePath != storePath {
		return nil, backend.Permanentf("%s describes %s, not this path", key, e.StorePath)
	}
	if err := c.checkTrust(key, e); err != nil {
		return nil, err
	}
	c.found.Store(storePath, e)
	return e, nil
}

// checkTrust accepts a narinfo as Nix accepts a substitute: from a cache
// marked trusted (?trusted=1) or one checking no signatures (no trusted
// keys and no Options.RequireSigs), or signed by a trusted key, or
// self-validating (PathInfo.SelfValidating: its store path is made from
// its NAR hash).
func (c *Cache) checkTrust(key string, e *narinfo.NarInfo) error {
	if c.trustAll || len(c.trusted) == 0 && !c.opts.RequireSigs {
		return nil
	}
	if c.trusted.Signed(e.Fingerprint(), e.Signatures) || e.SelfValidating() {
		return nil
	}
	switch {
	case len(c.trusted) == 0:
		return backend.Permanentf("%s is not trusted: no trusted public key is set, and it is not content-addressed", key)
	case len(e.Signatures) == 0:
		return backend.Permanentf("%s is not signed, and trusted keys are set", key)
	}
	return backend.Permanentf("%s is not signed by any trusted key (signatures: %s)", key, strings.Join(narinfo.SignerNames(e.Signatures), ", "))
}

// Has reports whether the cache holds storePath: a narinfo that parses,
// names it and, with trusted keys, is signed by one. Narinfos are written
// after their references', so the path's closure is there too.
func (c *Cache) Has(ctx context.Context, storePath string) (bool, error) {
	if err := narinfo.CheckStorePath(storePath); err != nil {
		return false, err
	}
	_, err := c.lookup(ctx, retry.New(c.opts.Attempts, c.opts.RetryDelay), storePath)
	if errors.Is(err, backend.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("unable to look up %s in %s\n%w", storePath, c, err)
	}
	return true, nil
}

// ErrUnreachable marks a Query error that retries could not get past (a
// dead or unreachable server), unlike a refusal (access denied, a bad
// nix-cache-info), which another client with other credentials may not get.
var ErrUnreachable = errors.New("unreachable after retries")

// Query looks up which of storePaths the cache holds, as Nix asks its
// substituters before it builds: a narinfo that parses, names the path and
// is trusted (checkTrust). The answers are kept for the Cache's lifetime,
// so a Fetch that follows asks again only for what it did not find. A
// narinfo refused for its trust or form is a line in the log; an error
// means the cache could not be used at all (its nix-cache-info unreadable,
// every request failing), and then nothing is found.
func (c *Cache) Query(ctx context.Context, storePaths []string) (map[string]bool, error) {
	r := retry.New(c.opts.Attempts, c.opts.RetryDelay)
	if err := c.checkCacheInfo(ctx, r); err != nil {
		var p *backend.PermanentError
		if errors.As(err, &p) {
			return nil, fmt.Errorf("cache %s is not usable: %w", c, err)
		}
		return nil, fmt.Errorf("cache %s is not usable: %w (%w)", c, err, ErrUnreachable)
	}
	found := make(map[string]bool, len(storePaths))
	var mu sync.Mutex
	var down error
	parallel(32, len(storePaths), func(i int) {
		p := storePaths[i]
		_, err := c.lookup(ctx, r, p)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			found[p] = true
		case errors.Is(err, backend.ErrNotFound), ctx.Err() != nil:
		case errors.Is(err, retry.ErrDown) || r.Tripped():
			down = err
		default:
			c.logf("warning: %s: %v; not substituting it from %s", p, err, c)
		}
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if down != nil {
		return found, fmt.Errorf("cache %s failed: %w (%w)", c, down, ErrUnreachable)
	}
	return found, nil
}

// readAllLimited reads at most limit bytes, refusing larger bodies (a narinfo
// is small; anything huge is not one).
func readAllLimited(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, backend.Permanentf("larger than %d bytes", limit)
	}
	return data, nil
}
