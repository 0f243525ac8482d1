package cache

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestOpen(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	config := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(config, []byte("[profile ci]\nregion = eu-north-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", config)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	tests := []struct {
		url         string
		want        any // *s3Settings, *fileBackend or the http base URL
		compression string
		err         string
	}{
		{url: "s3://bucket", want: &s3Settings{bucket: "bucket"}, compression: "zstd"},
		{url: "s3://bucket/team/app/?region=eu-west-1", want: &s3Settings{bucket: "bucket", prefix: "team/app/", region: "eu-west-1"}},
		{
			url:  "s3://b/p?endpoint=127.0.0.1:7070&scheme=http&profile=ci",
			want: &s3Settings{bucket: "b", prefix: "p/", endpoint: "http://127.0.0.1:7070", profile: "ci", pathStyle: true},
		},
		{
			url:  "s3://b?endpoint=https://minio.example:9000&path-style=false&compression=xz",
			want: &s3Settings{bucket: "b", endpoint: "https://minio.example:9000"}, compression: "xz",
		},
		{url: "s3://b?endpoint=minio.example", want: &s3Settings{bucket: "b", endpoint: "https://minio.example", pathStyle: true}},
		{url: "file:///var/cache/nix/?compression=none&priority=10", want: &fileBackend{root: "/var/cache/nix"}, compression: "none"},
		{url: "https://cache.example/nix?priority=30&trusted=1", want: "https://cache.example/nix/"},
		{url: "http://user:pw@cache.example", want: "http://user:pw@cache.example/"},
		{url: "s3:///prefix", err: "missing bucket"},
		{url: "s3://b?compression=gzip", err: `compression must be zstd, xz or none, got "gzip"`},
		{url: "s3://b?regoin=x", err: `unknown parameter "regoin"`},
		{url: "s3://b?path-style=maybe", err: "path-style must be true or false"},
		{url: "file://relative/dir", err: "expected file:///absolute/dir"},
		{url: "ftp://host/x", err: `unsupported scheme "ftp"`},
		{url: "file:///d?priority=high", err: "priority must be a number"},
		{url: "::", err: "cache URL is not a URL"},
		{url: "s3://b?profile=nope", err: "unable to load the AWS configuration"},
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
			var got any
			switch b := c.b.(stallGuard).backend.(type) {
			case *s3Backend:
				s := b.settings
				got = &s
			case *fileBackend:
				got = b
			case *httpBackend:
				got = b.base.String()
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("backend %#v, want %#v", got, tt.want)
			}
			if tt.compression != "" && c.compression != tt.compression {
				t.Fatalf("compression %s, want %s", c.compression, tt.compression)
			}
		})
	}
}

func TestRedacted(t *testing.T) {
	c, err := Open(ctx(t), "https://user:hunter2@cache.example/nix", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(c.Redacted(), "hunter2") || strings.Contains(c.String(), "hunter2") || !strings.Contains(c.Redacted(), "user:xxxxx@") {
		t.Fatalf("Redacted() = %s", c.Redacted())
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
	_, err := ParseSecretKey(secret)
	if err == nil || strings.Contains(err.Error(), "c2VjcmV0") {
		t.Errorf("ParseSecretKey error %v", err)
	}
}
