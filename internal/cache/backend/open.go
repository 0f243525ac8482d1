package backend

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// Config is what a transport may need besides its URL.
type Config struct {
	// Credentials for an s3:// cache (nil or no key uses the standard AWS
	// chain: environment, shared config and profile, container and instance
	// roles) and an oci:// one (a docker config; else CNB_REGISTRY_AUTH,
	// then the docker config docker reads).
	Credentials *settings.Credentials
	// StallTimeout abandons a download that receives nothing for this long
	// (Nix's stalled-download-timeout); 0 or less is no limit.
	StallTimeout time.Duration
	// ConnectTimeout bounds each connection attempt of an http(s) cache
	// (0: 10 s).
	ConnectTimeout time.Duration
}

// Open returns the backend for a cache URL (its name, redacted, is for
// messages), taking the parameters its transport understands from params:
//
//	s3://bucket[/prefix]?region=R&endpoint=http://127.0.0.1:7070&scheme=https&profile=P&path-style=true
//	http://host/path, https://host/path (read-only; parameters are Nix's, ignored)
//	oci://registry/repository[?insecure=true]
//	file:///dir
//
// It contacts nothing: an unreachable cache shows up when it is used.
func Open(ctx context.Context, u *url.URL, name string, params *Params, cfg Config) (Backend, error) {
	var b Backend
	switch u.Scheme {
	case "s3":
		s, err := s3URL(u, name, params)
		if err != nil {
			return nil, err
		}
		s.creds = cfg.Credentials
		if b, err = newS3Backend(ctx, s); err != nil {
			return nil, err
		}
	case "http", "https":
		b = newHTTPBackend(u, cfg.ConnectTimeout)
		params.TakeAll() // a substituter URL may carry parameters meant for Nix
	case "oci":
		o, err := newOCIBackend(u, name, params, cfg.Credentials)
		if err != nil {
			return nil, err
		}
		b = o
	case "file":
		if u.Host != "" && u.Host != "localhost" || !filepath.IsAbs(u.Path) {
			return nil, fmt.Errorf("cache URL %s: expected file:///absolute/dir", name)
		}
		b = &fileBackend{root: filepath.Clean(u.Path)}
	default:
		return nil, fmt.Errorf("cache URL %s: unsupported scheme %q; expected s3://, oci://, http(s):// or file://", name, u.Scheme)
	}
	if cfg.StallTimeout > 0 {
		b = stallGuard{Backend: b, timeout: cfg.StallTimeout}
	}
	return b, nil
}

// s3URL reads an s3:// URL and its parameters.
func s3URL(u *url.URL, name string, params *Params) (s3Settings, error) {
	s := s3Settings{bucket: u.Host, prefix: strings.Trim(u.Path, "/"), region: params.Take("region"), profile: params.Take("profile")}
	if s.bucket == "" {
		return s, fmt.Errorf("cache URL %s: missing bucket; expected s3://bucket/prefix", name)
	}
	if u.User != nil {
		return s, fmt.Errorf("cache URL %s: S3 credentials do not go in the URL; pass them as Options.Credentials or through the AWS environment", name)
	}
	if s.prefix != "" {
		s.prefix += "/"
	}
	scheme := params.Take("scheme")
	if scheme == "" {
		scheme = "https"
	}
	if s.endpoint = params.Take("endpoint"); s.endpoint != "" && !strings.Contains(s.endpoint, "://") {
		s.endpoint = scheme + "://" + s.endpoint
	}
	s.pathStyle = s.endpoint != ""
	if v := params.Take("path-style"); v != "" {
		var err error
		if s.pathStyle, err = strconv.ParseBool(v); err != nil {
			return s, fmt.Errorf("cache URL %s: path-style must be true or false, got %q", name, v)
		}
	}
	return s, nil
}

// Params are a cache URL's query parameters, taken by name by the code
// that understands them (the cache protocol, then the transport); Check
// refuses what is left.
type Params struct {
	raw string
	q   url.Values
}

// NewParams returns u's query parameters.
func NewParams(u *url.URL) *Params { return &Params{raw: u.RawQuery, q: u.Query()} }

// Take returns the parameter's value ("" when absent) and marks it understood.
func (p *Params) Take(name string) string {
	v := p.q.Get(name)
	p.q.Del(name)
	return v
}

// TakeAll marks every parameter understood.
func (p *Params) TakeAll() { p.q = url.Values{} }

// Check refuses a parameter nobody took, naming the URL by name.
func (p *Params) Check(name string) error {
	for _, kv := range strings.Split(p.raw, "&") {
		k, _, hasValue := strings.Cut(kv, "=")
		key, _ := url.QueryUnescape(k)
		if _, unknown := p.q[key]; !unknown || kv == "" {
			continue
		}
		if !hasValue { // a bare word may be a token: do not echo it
			return fmt.Errorf("cache URL %s: a query part without '=' (hidden here); parameters are name=value", name)
		}
		return fmt.Errorf("cache URL %s: unknown parameter %q", name, key)
	}
	return nil
}
