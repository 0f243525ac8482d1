package cache

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/cache/backend"
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
)

// cacheInfo is the parsed nix-cache-info file at a cache's root.
type cacheInfo struct {
	storeDir string
}

// readCacheInfo fetches nix-cache-info. It is the first request of every
// operation, so a missing bucket, wrong credentials or a dead server show up
// once, here, and not once per path. backend.ErrNotFound means an empty cache.
func (c *Cache) readCacheInfo(ctx context.Context, r *retrier) (*cacheInfo, error) {
	var data []byte
	err := r.do(ctx, func() error {
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
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == "narinfo.StoreDir" {
			info.storeDir = strings.TrimSpace(v)
		}
	}
	return info, nil
}

// checkCacheInfo makes sure the cache can be read and holds paths for
// /nix/store; a cache without nix-cache-info counts as empty but usable.
func (c *Cache) checkCacheInfo(ctx context.Context, r *retrier) error {
	info, err := c.readCacheInfo(ctx, r)
	if errors.Is(err, backend.ErrNotFound) {
		c.logf("%s has no nix-cache-info yet; treating it as empty", c)
		return nil
	}
	if err != nil {
		return err
	}
	if info.storeDir != "" && info.storeDir != narinfo.StoreDir {
		return fmt.Errorf("its nix-cache-info says narinfo.StoreDir %s, not %s", info.storeDir, narinfo.StoreDir)
	}
	return nil
}

// lookup fetches and checks the narinfo of storePath: it must parse, name
// that path, and, when trusted keys are set, carry a signature by one.
func (c *Cache) lookup(ctx context.Context, r *retrier, storePath string) (*narinfo.NarInfo, error) {
	key := narinfo.HashPart(storePath) + ".narinfo"
	var data []byte
	err := r.do(ctx, func() error {
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
	if len(c.trusted) > 0 && !c.trusted.Signed(e.Fingerprint(), e.Signatures) {
		if len(e.Signatures) == 0 {
			return nil, backend.Permanentf("%s is not signed, and trusted keys are set", key)
		}
		return nil, backend.Permanentf("%s is not signed by any trusted key (signatures: %s)", key, strings.Join(narinfo.SignerNames(e.Signatures), ", "))
	}
	return e, nil
}

// Has reports whether the cache holds storePath: a narinfo that parses,
// names it and, with trusted keys, is signed by one. Narinfos are written
// after their references', so the path's closure is there too.
func (c *Cache) Has(ctx context.Context, storePath string) (bool, error) {
	if err := narinfo.CheckStorePath(storePath); err != nil {
		return false, err
	}
	_, err := c.lookup(ctx, newRetrier(c.opts.Attempts, c.opts.RetryDelay), storePath)
	if errors.Is(err, backend.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("unable to look up %s in %s: %w", storePath, c, err)
	}
	return true, nil
}
