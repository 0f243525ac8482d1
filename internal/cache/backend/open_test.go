package backend

import (
	"net/url"
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
		url  string
		want any // *s3Settings, *fileBackend, the http base URL or "oci:" and the repository
		err  string
	}{
		{url: "s3://bucket", want: &s3Settings{bucket: "bucket"}},
		{url: "s3://bucket/team/app/?region=eu-west-1", want: &s3Settings{bucket: "bucket", prefix: "team/app/", region: "eu-west-1"}},
		{
			url:  "s3://b/p?endpoint=127.0.0.1:7070&scheme=http&profile=ci",
			want: &s3Settings{bucket: "b", prefix: "p/", endpoint: "http://127.0.0.1:7070", profile: "ci", pathStyle: true},
		},
		{
			url:  "s3://b?endpoint=https://minio.example:9000&path-style=false&compression=xz",
			want: &s3Settings{bucket: "b", endpoint: "https://minio.example:9000"},
		},
		{url: "s3://b?endpoint=minio.example", want: &s3Settings{bucket: "b", endpoint: "https://minio.example", pathStyle: true}},
		{url: "file:///var/cache/nix/?compression=none&priority=10", want: &fileBackend{root: "/var/cache/nix"}},
		{url: "https://cache.example/nix?priority=30&trusted=1", want: "https://cache.example/nix/"},
		{url: "http://user:pw@cache.example", want: "http://user:pw@cache.example/"},
		{url: "oci://ghcr.io/team/app", want: "oci:ghcr.io/team/app"},
		{url: "oci://127.0.0.1:5000/app/?compression=none", want: "oci:127.0.0.1:5000/app"},
		{url: "oci://registry.example/app?insecure=true", want: "oci:registry.example/app"},
		{url: "oci://ghcr.io", err: "expected oci://registry/repository"},
		{url: "oci://ghcr.io/app:latest", err: "without a tag or digest"},
		{url: "oci://ghcr.io/App", err: "not a repository"},
		{url: "oci://user:hunter2@ghcr.io/app", err: "do not go in the URL"},
		{url: "oci://ghcr.io/app?insecure=yes", err: "insecure must be true or false"},
		{url: "oci://ghcr.io/app?tag=x", err: `unknown parameter "tag"`},
		{url: "s3:///prefix", err: "missing bucket"},
		{url: "s3://b?regoin=x", err: `unknown parameter "regoin"`},
		{url: "s3://b?token", err: "a query part without '=' (hidden here)"},
		{url: "s3://b?path-style=maybe", err: "path-style must be true or false"},
		{url: "s3://AKID:hunter2@bucket/p", err: "do not go in the URL"},
		{url: "file://relative/dir", err: "expected file:///absolute/dir"},
		{url: "ftp://host/x", err: `unsupported scheme "ftp"`},
		{url: "s3://b?profile=nope", err: "unable to load the AWS configuration"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			params := NewParams(u)
			params.Take("compression") // the cache protocol's
			params.Take("priority")
			b, err := Open(t.Context(), u, "the cache", params, Config{})
			if err == nil {
				err = params.Check("the cache")
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("error %v, want one containing %q (and no secret)", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got any
			switch b := b.(type) {
			case *s3Backend:
				s := b.settings
				got = &s
			case *fileBackend:
				got = b
			case *httpBackend:
				got = b.base.String()
			case *ociBackend:
				got = "oci:" + b.repo.String()
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("backend %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestOpenGuardsStalls(t *testing.T) {
	u, _ := url.Parse("file:///x")
	b, err := Open(t.Context(), u, "file:///x", NewParams(u), Config{StallTimeout: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.(stallGuard); !ok {
		t.Fatalf("backend %T, want a stallGuard", b)
	}
}
