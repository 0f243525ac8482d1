package cache

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nix-community/go-nix/pkg/narinfo/signature"

	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// Credentials are S3 keys the caller resolved itself (for example from the
// old buildpacks' NIX_S3_KEY/NIX_S3_SECRET). Printing them shows nothing.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// String hides the keys.
func (Credentials) String() string { return "Credentials{redacted}" }

// GoString hides the keys from %#v.
func (c Credentials) GoString() string { return c.String() }

// Options tunes a Cache. The zero value works: AWS credential chain, no
// signature checks, no signing, no log.
type Options struct {
	// Credentials for an s3:// cache; nil uses the standard AWS chain
	// (environment, shared config and profile, container and instance roles).
	Credentials *Credentials
	// TrustedKeys, when not empty, make Fetch refuse narinfos that no key
	// signed. Nix's format: "name:base64", several per string allowed.
	TrustedKeys []string
	// SecretKey, when set, signs every narinfo Push writes.
	SecretKey *SecretKey
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
	// DefaultStallTimeout, a negative value no limit.
	StallTimeout time.Duration
}

// Cache is one binary cache, opened from a URL.
type Cache struct {
	b           backend
	redacted    string
	compression string
	priority    int
	trusted     []signature.PublicKey
	opts        Options
	logMu       sync.Mutex
}

// Open parses a cache URL and prepares a client; it contacts nothing, so an
// unreachable cache shows up as warnings from Fetch and Push, not here. An
// error means the URL or options are wrong. URLs, like Nix's store URLs:
//
//	s3://bucket[/prefix]?region=R&endpoint=http://127.0.0.1:7070&scheme=https&profile=P&path-style=true
//	http://host/path, https://host/path (read-only)
//	file:///dir
//
// All take compression=zstd|xz|none (for Push; default zstd) and priority=N
// (written to nix-cache-info; default 40).
func Open(ctx context.Context, rawURL string, opts Options) (*Cache, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("cache URL is not a URL; expected s3://bucket/prefix, http(s)://host/path or file:///dir")
	}
	c := &Cache{redacted: settings.RedactURL(rawURL), compression: "zstd", priority: 40, opts: opts}
	if c.opts.Jobs <= 0 {
		c.opts.Jobs = 8
	}
	if c.opts.Attempts <= 0 {
		c.opts.Attempts = 4
	}
	if c.opts.RetryDelay <= 0 {
		c.opts.RetryDelay = 250 * time.Millisecond
	}
	if c.trusted, err = parsePublicKeys(opts.TrustedKeys); err != nil {
		return nil, err
	}
	q := u.Query()
	param := func(name string) string {
		v := q.Get(name)
		q.Del(name)
		return v
	}
	if v := param("compression"); v != "" {
		if v != "zstd" && v != "xz" && v != "none" {
			return nil, fmt.Errorf("cache URL %s: compression must be zstd, xz or none, got %q", c.redacted, v)
		}
		c.compression = v
	}
	if v := param("priority"); v != "" {
		if c.priority, err = strconv.Atoi(v); err != nil {
			return nil, fmt.Errorf("cache URL %s: priority must be a number, got %q", c.redacted, v)
		}
	}
	switch u.Scheme {
	case "s3":
		s := s3Settings{bucket: u.Host, prefix: strings.Trim(u.Path, "/"), creds: opts.Credentials,
			region: param("region"), profile: param("profile")}
		if s.bucket == "" {
			return nil, fmt.Errorf("cache URL %s: missing bucket; expected s3://bucket/prefix", c.redacted)
		}
		if u.User != nil {
			return nil, fmt.Errorf("cache URL %s: S3 credentials do not go in the URL; pass them as Options.Credentials or through the AWS environment", c.redacted)
		}
		if s.prefix != "" {
			s.prefix += "/"
		}
		scheme := param("scheme")
		if scheme == "" {
			scheme = "https"
		}
		if s.endpoint = param("endpoint"); s.endpoint != "" && !strings.Contains(s.endpoint, "://") {
			s.endpoint = scheme + "://" + s.endpoint
		}
		s.pathStyle = s.endpoint != ""
		if v := param("path-style"); v != "" {
			if s.pathStyle, err = strconv.ParseBool(v); err != nil {
				return nil, fmt.Errorf("cache URL %s: path-style must be true or false, got %q", c.redacted, v)
			}
		}
		if c.b, err = newS3Backend(ctx, s); err != nil {
			return nil, err
		}
	case "http", "https":
		c.b = newHTTPBackend(u)
		q = nil // a substituter URL may carry parameters meant for Nix
	case "file":
		if u.Host != "" && u.Host != "localhost" || !filepath.IsAbs(u.Path) {
			return nil, fmt.Errorf("cache URL %s: expected file:///absolute/dir", c.redacted)
		}
		c.b = &fileBackend{root: filepath.Clean(u.Path)}
	default:
		return nil, fmt.Errorf("cache URL %s: unsupported scheme %q; expected s3://, http(s):// or file://", c.redacted, u.Scheme)
	}
	if c.opts.StallTimeout == 0 {
		c.opts.StallTimeout = DefaultStallTimeout
	}
	c.b = stallGuard{backend: c.b, timeout: c.opts.StallTimeout}
	for _, kv := range strings.Split(u.RawQuery, "&") {
		k, _, hasValue := strings.Cut(kv, "=")
		name, _ := url.QueryUnescape(k)
		if _, unknown := q[name]; !unknown || kv == "" {
			continue
		}
		if !hasValue { // a bare word may be a token: do not echo it
			return nil, fmt.Errorf("cache URL %s: a query part without '=' (hidden here); parameters are name=value", c.redacted)
		}
		return nil, fmt.Errorf("cache URL %s: unknown parameter %q", c.redacted, name)
	}
	return c, nil
}

// Redacted is the cache URL without its secrets (RedactURL), for messages.
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
