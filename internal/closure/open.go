package closure

import (
	"context"
	"fmt"
	"io"

	"github.com/nix-buildpack/nix-buildpack/internal/cache"
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// OpenCaches opens the caches the settings name. Secrets stay inside the
// returned caches: errors and names never show them.
func OpenCaches(ctx context.Context, s settings.Caches, log io.Writer) (Caches, error) {
	c := Caches{Policy: s.Policy}
	opts := cache.Options{Credentials: s.Credentials, TrustedKeys: s.TrustedKeys, Log: log, StallTimeout: s.StallTimeout}
	if s.StallTimeout == 0 {
		opts.StallTimeout = -1 // the setting's 0 is no limit
	}
	if s.SecretKey != "" {
		key, err := narinfo.ParseSecretKey(s.SecretKey)
		if err != nil {
			return Caches{}, fmt.Errorf("%s: the cache signing key is malformed\nexpected name:base64 as nix-store --generate-binary-cache-key writes it", settings.SecretKeyName)
		}
		opts.SecretKey = key
	}
	if s.Write != "" {
		w, err := cache.Open(ctx, s.Write, opts)
		if err != nil {
			return Caches{}, fmt.Errorf("%s: the cache URL is invalid: %w", s.WriteFrom, err)
		}
		c.Write = w
	}
	for _, u := range s.Read {
		r, err := cache.Open(ctx, u, opts)
		if err != nil {
			return Caches{}, fmt.Errorf("%s: the read-only cache URL is invalid: %w", settings.CachesName, err)
		}
		c.Read = append(c.Read, r)
	}
	return c, nil
}
