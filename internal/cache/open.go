package cache

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/cache/backend"
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// Options tunes a Cache. The zero value works: AWS credential chain, no
// signature checks, no signing, no log.
type Options struct {
	// Name is the cache URL as messages show it, its secrets hidden (the
	// caller's settings.RedactURL); "" shows its scheme, host and path, and
	// xxxxx@ for user info.
	Name string
	// Credentials for an s3:// cache; nil uses the standard AWS chain
	// (environment, shared config and profile, container and instance roles).
	Credentials *settings.Credentials
	// TrustedKeys, when not empty, make Fetch refuse narinfos that no key
	// signed (but for self-validating ones, as Nix). Nix's format:
	// "name:base64", several per string allowed.
	TrustedKeys []string
	// RequireSigs is Nix's require-sigs for a substituter: a narinfo no
	// trusted key signed is refused even when no key is trusted (then only
	// self-validating ones are taken), unless the URL says trusted=1.
	RequireSigs bool
	// SecretKey, when set, signs every narinfo Push writes.
	SecretKey *narinfo.SecretKey
	// Log receives progress lines and warnings; nil discards them.
	Log io.Writer
	// Progress, when set, is called as paths complete and once at the end.
	Progress func(Progress)
	// Jobs is the number of NARs transferred at once (default 8).
	Jobs int
	// Attempts is how often a failing request is tried (default 4);
	// RetryDelay the first backoff (default 250ms, doubling).
	Attempts   int
	RetryDelay time.Duration
	// StallTimeout abandons a download that receives nothing for this
	// long (Nix's stalled-download-timeout); it is retried like a cut
	// connection, then its path counts as missing. 0 means
	// backend.DefaultStallTimeout, a negative value no limit.
	StallTimeout time.Duration
	// ConnectTimeout bounds each connection attempt to an http(s) cache
	// (0: 10 s); substituters take nix.conf's connect-timeout.
	ConnectTimeout time.Duration
}

// Cache is one binary cache, opened from a URL.
type Cache struct {
	b           backend.Backend
	redacted    string
	compression string
	priority    int
	trusted     narinfo.PublicKeys
	// layers says the cache takes paths as image layers (oci://).
	layers bool
	opts   Options
	logMu  sync.Mutex
	// trustAll is the URL's trusted=1: its narinfos need no signature.
	trustAll bool
	// found keeps the narinfos accepted so far, by store path.
	found sync.Map
}

// Open parses a cache URL and prepares a client; it contacts nothing, so an
// unreachable cache shows up as warnings from Fetch and Push, not here. An
// error means the URL or options are wrong. URLs, like Nix's store URLs:
//
//	s3://bucket[/prefix]?region=R&endpoint=http://127.0.0.1:7070&scheme=https&profile=P&path-style=true
//	oci://registry/repository[?insecure=true] (see docs/oci-cache.md)
//	http://host/path, https://host/path (read-only)
//	file:///dir
//
// All take compression=zstd|xz|none (for Push; default zstd), priority=N
// (written to nix-cache-info; default 40) and trusted=1 (Nix's: its
// narinfos need no signature); the transports are package backend's.
func Open(ctx context.Context, rawURL string, opts Options) (*Cache, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("cache URL is not a URL; expected s3://bucket/prefix, oci://registry/repository, http(s)://host/path or file:///dir")
	}
	c := &Cache{redacted: opts.Name, compression: "zstd", priority: 40, opts: opts}
	if c.redacted == "" {
		shown := &url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
		if u.User != nil {
			shown.User = url.User("xxxxx") // there are credentials; which is not shown
		}
		c.redacted = shown.String()
	}
	if c.opts.Jobs <= 0 {
		c.opts.Jobs = 8
	}
	if c.opts.Attempts <= 0 {
		c.opts.Attempts = 4
	}
	if c.opts.RetryDelay <= 0 {
		c.opts.RetryDelay = 250 * time.Millisecond
	}
	if c.opts.StallTimeout == 0 {
		c.opts.StallTimeout = backend.DefaultStallTimeout
	}
	if c.trusted, err = narinfo.ParsePublicKeys(opts.TrustedKeys); err != nil {
		return nil, err
	}
	params := backend.NewParams(u)
	if v := params.Take("compression"); v != "" {
		if v != "zstd" && v != "xz" && v != "none" {
			return nil, fmt.Errorf("cache URL %s: compression must be zstd, xz or none, got %q", c.redacted, v)
		}
		c.compression = v
	}
	if v := params.Take("trusted"); v != "" {
		switch v {
		case "1", "true", "yes":
			c.trustAll = true
		case "0", "false", "no":
		default:
			return nil, fmt.Errorf("cache URL %s: trusted must be true or false, got %q", c.redacted, v)
		}
	}
	if v := params.Take("priority"); v != "" {
		if c.priority, err = strconv.Atoi(v); err != nil {
			return nil, fmt.Errorf("cache URL %s: priority must be a number, got %q", c.redacted, v)
		}
	}
	c.layers = u.Scheme == "oci"
	cfg := backend.Config{Credentials: opts.Credentials, StallTimeout: c.opts.StallTimeout, ConnectTimeout: opts.ConnectTimeout}
	if c.b, err = backend.Open(ctx, u, c.redacted, params, cfg); err != nil {
		return nil, err
	}
	if err := params.Check(c.redacted); err != nil {
		return nil, err
	}
	return c, nil
}

// TakesLayers reports whether the cache can store paths as image layers
// (PushOptions.AsLayer): an oci:// cache.
func (c *Cache) TakesLayers() bool { return c.layers }

// Redacted is the cache URL without its secrets (Options.Name), for
// messages.
func (c *Cache) Redacted() string { return c.redacted }

// String is Redacted.
func (c *Cache) String() string { return c.redacted }

// logf writes one line to the log, if any.
func (c *Cache) logf(format string, args ...any) {
	if c.opts.Log != nil {
		c.logMu.Lock()
		defer c.logMu.Unlock()
		fmt.Fprintf(c.opts.Log, format+"\n", args...)
	}
}
