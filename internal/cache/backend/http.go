package backend

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// httpBackend reads a cache served over HTTP(S), as a Nix substituter does.
// It cannot write or list.
type httpBackend struct {
	base   *url.URL // with a trailing slash on the path
	client *http.Client
}

func newHTTPBackend(u *url.URL, connectTimeout time.Duration) *httpBackend {
	base := *u
	base.RawQuery, base.Fragment = "", ""
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	t.ResponseHeaderTimeout = time.Minute
	if connectTimeout <= 0 {
		connectTimeout = 10 * time.Second
	}
	t.DialContext = (&net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}).DialContext
	t.ReadBufferSize = 256 << 10
	// A NAR is already compressed; asking for gzip would only cost CPU.
	t.DisableCompression = true
	return &httpBackend{base: &base, client: &http.Client{Transport: t}}
}

func (b *httpBackend) url(key string) string {
	return b.base.ResolveReference(&url.URL{Path: key}).String()
}

// do sends a request and maps the status to the backend error kinds. The
// error text names the key, not the URL, so basic-auth passwords in the
// cache URL stay out of it.
func (b *httpBackend) do(ctx context.Context, method, key string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, b.url(key), nil)
	if err != nil {
		return nil, Permanentf("%s %s: invalid request", method, key)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s %s: %s", method, key, describeNetError(err))
	}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return resp, nil
	case code == http.StatusNotFound || code == http.StatusGone:
		resp.Body.Close()
		return nil, ErrNotFound
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		resp.Body.Close()
		return nil, Permanentf("%s %s: access denied (HTTP %d); check the cache URL's credentials", method, key, code)
	case code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout:
		resp.Body.Close()
		return nil, fmt.Errorf("%s %s: HTTP %d %s", method, key, code, http.StatusText(code))
	default:
		resp.Body.Close()
		return nil, Permanentf("%s %s: HTTP %d %s", method, key, code, http.StatusText(code))
	}
}

func (b *httpBackend) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	resp, err := b.do(ctx, http.MethodGet, key)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

func (b *httpBackend) Exists(ctx context.Context, key string) (bool, error) {
	resp, err := b.do(ctx, http.MethodHead, key)
	if err == ErrNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return true, nil
}

func (b *httpBackend) Put(context.Context, string, io.ReadSeeker, int64, string) error {
	return Permanentf("an http(s) cache is read-only; push to an s3:// or file:// cache")
}

func (b *httpBackend) List(context.Context, func(string) error) error {
	return Permanentf("an http(s) cache cannot be listed; use its s3:// or file:// URL")
}

// describeNetError returns the cause of a failed request without the URL
// that *url.Error would print.
func describeNetError(err error) string {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err.Error()
	}
	return err.Error()
}
