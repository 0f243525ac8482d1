// Package caching is the build's use of binary caches: which caches, when
// to build (the policy), what to restore before a build (by the source
// pointer, the output, the build-time inputs), with or without Nix, and
// what to push after it. The cache protocol itself is package cache's.
package caching

import (
	"context"
	"fmt"
	"io"

	"github.com/nix-buildpack/nix-buildpack/internal/cache"
	"github.com/nix-buildpack/nix-buildpack/internal/nar"
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// Caches are the binary caches a build restores from and pushes to.
type Caches struct {
	// Read are caches to restore from, in order (Write is tried first).
	Read []*cache.Cache
	// Write receives what the build made; nil pushes nothing.
	Write *cache.Cache
	// Policy says when to build.
	Policy settings.Policy
	// AsLayer, when set, says how Write stores a runtime store path as its
	// image layer (cache.PushOptions.AsLayer): the CNB front-end's store
	// layers, so that an oci:// cache in the image's repository already
	// holds the blobs the exporter makes.
	AsLayer func(storePath string) (nar.Layer, bool)
}

// Any reports whether a cache is configured.
func (c Caches) Any() bool { return c.Write != nil || len(c.Read) > 0 }

// All are the caches in the order they are read: Write, then Read.
func (c Caches) All() []*cache.Cache {
	if c.Write == nil {
		return c.Read
	}
	return append([]*cache.Cache{c.Write}, c.Read...)
}

// Open opens the caches the settings name. Secrets stay inside the
// returned caches: errors and names never show them.
func Open(ctx context.Context, s settings.Caches, log io.Writer) (Caches, error) {
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
		opts.Name = settings.RedactURL(s.Write)
		w, err := cache.Open(ctx, s.Write, opts)
		if err != nil {
			return Caches{}, fmt.Errorf("%s: the cache URL is invalid\n%w", s.WriteFrom, err)
		}
		c.Write = w
	}
	for _, u := range s.Read {
		opts.Name = settings.RedactURL(u)
		r, err := cache.Open(ctx, u, opts)
		if err != nil {
			return Caches{}, fmt.Errorf("%s: the read-only cache URL is invalid\n%w", settings.CachesName, err)
		}
		c.Read = append(c.Read, r)
	}
	return c, nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
