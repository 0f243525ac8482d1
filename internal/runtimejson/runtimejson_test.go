package runtimejson_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/runtimejson"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want runtimejson.Runtime
		err  string
	}{
		{name: "web only", in: `{"workers": {"web": "busybox httpd -f -p $PORT"}}`,
			want: runtimejson.Runtime{Workers: map[string]runtimejson.Worker{"web": {Command: "busybox httpd -f -p $PORT"}}, Env: map[string]string{}}},
		{name: "env and path", in: `{"workers": {"web": "a", "worker": {"command": "b"}}, "env": {"A": "1"}, "path": ["/nix/store/x/bin"]}`,
			want: runtimejson.Runtime{Workers: map[string]runtimejson.Worker{"web": {Command: "a"}, "worker": {Command: "b"}},
				Env: map[string]string{"A": "1"}, Path: []string{"/nix/store/x/bin"}}},
		{name: "static", in: `{"workers": {"web": {"static": "/nix/store/x-site"}}}`,
			want: runtimejson.Runtime{Workers: map[string]runtimejson.Worker{"web": {Static: "/nix/store/x-site"}}, Env: map[string]string{}}},
		{name: "empty file", in: ``, err: "runtime.json: empty file"},
		{name: "invalid JSON", in: "{\"workers\": {\n  \"web\": \"a\",\n}}", err: "runtime.json:3:1: invalid JSON (offset"},
		{name: "workers wrong type", in: `{"workers": ["a"]}`, err: "runtime.json:1:13: workers must be an object, got array"},
		{name: "top level array", in: `[1]`, err: "must be an object, got array"},
		{name: "no workers", in: `{"env": {}}`, err: `runtime.json: "workers" is missing or empty`},
		{name: "empty workers", in: `{"workers": {}}`, err: `"workers" is missing or empty`},
		{name: "worker number", in: `{"workers": {"web": 3}}`, err: "workers.web must be a command string or {\"static\": \"<dir>\"}, got a number"},
		{name: "worker empty", in: `{"workers": {"web": " "}}`, err: "workers.web is an empty command"},
		{name: "bad type name", in: `{"workers": {"we b": "x"}}`, err: "a process type may hold only"},
		{name: "env number", in: `{"workers": {"web": "x"}, "env": {"N": 1}}`, err: "env.N must be a string, got a number"},
		{name: "path string", in: `{"workers": {"web": "x"}, "path": "/bin"}`, err: "path must be an array of strings, got a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := runtimejson.Parse([]byte(tt.in), "runtime.json")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Parse() error = %v; want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse() = %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestTypesPutWebFirst(t *testing.T) {
	rt := runtimejson.Runtime{Workers: map[string]runtimejson.Worker{"b": {}, "web": {}, "a": {}}}
	if got := rt.Types(); !reflect.DeepEqual(got, []string{"web", "a", "b"}) {
		t.Fatalf("Types() = %v", got)
	}
}
