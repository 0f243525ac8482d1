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
		{name: "worker named static is a directory (Hop3's static site)", in: `{"workers": {"static": "/nix/store/x-site/public"}, "env": {}}`,
			want: runtimejson.Runtime{Workers: map[string]runtimejson.Worker{"static": {Static: "/nix/store/x-site/public"}}, Env: map[string]string{}}},
		{name: "worker named static in object form", in: `{"workers": {"static": {"static": "/nix/store/x-site"}}}`,
			want: runtimejson.Runtime{Workers: map[string]runtimejson.Worker{"static": {Static: "/nix/store/x-site"}}, Env: map[string]string{}}},
		{name: "empty file", in: ``, err: "runtime.json: empty file"},
		{name: "nested 64 deep (strings are not counted)", in: `{"workers": {"web": "[[[{{{"}, "env": {"A": ` + strings.Repeat("[", 62) + strings.Repeat("]", 62) + `}}`,
			err: "env.A must be a string, got an array"},
		{name: "nested 65 deep (issue 21, row 14)", in: "{\"workers\": {\"web\": \"a\"},\n \"env\": {\"A\": " + strings.Repeat("[", 63) + strings.Repeat("]", 63) + "}}",
			err: "runtime.json:2:77: arrays and objects nested more than 64 deep"},
		{name: "a million nested arrays", in: `{"env": ` + strings.Repeat("[", 1_000_000) + strings.Repeat("]", 1_000_000) + `}`,
			err: "runtime.json:1:72: arrays and objects nested more than 64 deep"},
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
		{name: "trailing whitespace is fine", in: "{\"workers\": {\"web\": \"a\"}}\n\n",
			want: runtimejson.Runtime{Workers: map[string]runtimejson.Worker{"web": {Command: "a"}}, Env: map[string]string{}}},
		{name: "trailing bytes", in: "{\"workers\": {\"web\": \"a\"}}\nx", err: "runtime.json:2:1: unexpected data after the JSON object at byte offset 26"},
		{name: "second object", in: `{"workers": {"web": "a"}} {}`, err: "runtime.json:1:27: unexpected data after the JSON object at byte offset 26"},
		{name: "duplicate worker", in: "{\"workers\": {\"web\": \"a\",\n \"web\": \"b\"}}", err: `runtime.json:2:6: key "web" appears twice in workers`},
		{name: "duplicate top-level key", in: `{"workers": {"web": "a"}, "env": {}, "env": {}}`, err: `key "env" appears twice in the top level`},
		{name: "duplicate env key", in: `{"workers": {"web": "a"}, "env": {"A": "1", "B": "2", "A": "3"}}`, err: `key "A" appears twice in env`},
		{name: "duplicate key in a static worker", in: `{"workers": {"web": {"static": "/a", "static": "/b"}}}`, err: `key "static" appears twice in workers.web`},
		{name: "same key in two objects is fine", in: `{"workers": {"web": {"static": "/a"}, "docs": {"static": "/b"}}}`,
			want: runtimejson.Runtime{Workers: map[string]runtimejson.Worker{"web": {Static: "/a"}, "docs": {Static: "/b"}}, Env: map[string]string{}}},
		{name: "invalid UTF-8", in: "{\"workers\": {\"web\": \"caf\xe9\"}}", err: "runtime.json:1:25: invalid UTF-8 at byte offset 24 (0xe9)"},
		{name: "valid UTF-8", in: `{"workers": {"web": "echo café"}}`,
			want: runtimejson.Runtime{Workers: map[string]runtimejson.Worker{"web": {Command: "echo café"}}, Env: map[string]string{}}},
		{name: "relative path entry", in: `{"workers": {"web": "a"}, "path": ["/nix/store/x/bin", "bin"]}`, err: `runtime.json: path[1] = "bin" is not an absolute directory`},
		{name: "empty path entry", in: `{"workers": {"web": "a"}, "path": [""]}`, err: `path[0] = "" is not an absolute directory`},
		{name: "env name with a dot", in: `{"workers": {"web": "a"}, "env": {"a.b": "1"}}`, err: `runtime.json: env key "a.b" is not an environment variable name`},
		{name: "env name escaping a directory", in: `{"workers": {"web": "a"}, "env": {"../../x": "1"}}`, err: `env key "../../x" is not an environment variable name`},
		{name: "env name starting with a digit", in: `{"workers": {"web": "a"}, "env": {"1A": "1"}}`, err: `env key "1A" is not`},
		{name: "env name empty", in: `{"workers": {"web": "a"}, "env": {"": "1"}}`, err: `env key "" is not`},
		{name: "env name with underscore and digits", in: `{"workers": {"web": "a"}, "env": {"_A1": "1"}}`,
			want: runtimejson.Runtime{Workers: map[string]runtimejson.Worker{"web": {Command: "a"}}, Env: map[string]string{"_A1": "1"}}},
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
