package cache

import (
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
)

func TestOpen(t *testing.T) {
	tests := []struct {
		url         string
		compression string
		priority    int
		err         string
	}{
		{url: "s3://bucket", compression: "zstd", priority: 40},
		{url: "s3://b?endpoint=https://minio.example:9000&path-style=false&compression=xz", compression: "xz", priority: 40},
		{url: "file:///var/cache/nix/?compression=none&priority=10", compression: "none", priority: 10},
		{url: "https://cache.example/nix?priority=30&trusted=1", compression: "zstd", priority: 30},
		{url: "s3://b?compression=gzip", err: `compression must be zstd, xz or none, got "gzip"`},
		{url: "file:///d?priority=high", err: "priority must be a number"},
		{url: "::", err: "cache URL is not a URL"},
		// The transports' own parameters and errors: backend.TestOpen.
		{url: "s3://b?regoin=x", err: `unknown parameter "regoin"`},
		{url: "ftp://host/x", err: `unsupported scheme "ftp"`},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			c, err := Open(ctx(t), tt.url, Options{})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.compression != tt.compression || c.priority != tt.priority {
				t.Fatalf("compression %s, priority %d; want %s, %d", c.compression, c.priority, tt.compression, tt.priority)
			}
		})
	}
}

func TestRedacted(t *testing.T) {
	// The caller names the cache (settings.RedactURL); without a name, the
	// cache shows its scheme, host and path alone.
	const raw = "https://user:hunter2@cache.example/nix?token=hunter3"
	c, err := Open(ctx(t), raw, Options{Name: "https://user:xxxxx@cache.example/nix?token=xxxxx"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Redacted() != "https://user:xxxxx@cache.example/nix?token=xxxxx" || c.String() != c.Redacted() {
		t.Fatalf("Redacted() = %s", c.Redacted())
	}
	c, err = Open(ctx(t), raw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Redacted() != "https://xxxxx@cache.example/nix" {
		t.Fatalf("Redacted() without a name = %s", c.Redacted())
	}
	_, err = Open(ctx(t), "https://user:hunter2@cache.example/nix?compression=gzip", Options{})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %v", err)
	}
	_, err = Open(ctx(t), "s3://AKID:hunter2@bucket/p", Options{})
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "do not go in the URL") {
		t.Fatalf("error %v", err)
	}
	_, err = Open(ctx(t), "file:///x?compression=hunter2", Options{})
	if err == nil {
		t.Fatal("bad compression accepted")
	}
}

func TestOpenRefusesBadKeys(t *testing.T) {
	if _, err := Open(ctx(t), "file:///x", Options{TrustedKeys: []string{"name:notbase64!"}}); err == nil {
		t.Error("a malformed trusted key was accepted")
	}
	const secret = "k:c2VjcmV0LXRoYXQtaXMtdG9vLXNob3J0"
	_, err := narinfo.ParseSecretKey(secret)
	if err == nil || strings.Contains(err.Error(), "c2VjcmV0") {
		t.Errorf("ParseSecretKey error %v", err)
	}
}
