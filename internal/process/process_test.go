package process_test

import (
	"reflect"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/process"
	"github.com/nix-buildpack/nix-buildpack/internal/runtimejson"
)

func TestFromRuntime(t *testing.T) {
	rt := runtimejson.Runtime{Workers: map[string]runtimejson.Worker{
		"worker": {Command: "q --jobs 2"},
		"web":    {Command: `busybox httpd -f -p "$BIND_ADDRESS:$PORT"`},
		"docs":   {Static: "/nix/store/x-site"},
	}}
	got := process.FromRuntime(rt, process.Launcher{Path: "/l/bin/nixbp-launch", NixDir: "/l/nix"})
	want := []process.Process{
		{Type: "web", Default: true, Command: []string{"/l/bin/nixbp-launch", "--nix-dir", "/l/nix", "--", `busybox httpd -f -p "$BIND_ADDRESS:$PORT"`}},
		{Type: "docs", Command: []string{"/l/bin/nixbp-launch", "--nix-dir", "/l/nix", "--static", "/nix/store/x-site"}},
		{Type: "worker", Command: []string{"/l/bin/nixbp-launch", "--nix-dir", "/l/nix", "--", "q --jobs 2"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("FromRuntime() =\n%+v\nwant\n%+v", got, want)
	}
	if line := got[0].CommandLine(); line != `/l/bin/nixbp-launch --nix-dir /l/nix -- 'busybox httpd -f -p "$BIND_ADDRESS:$PORT"'` {
		t.Fatalf("CommandLine() = %s", line)
	}
}

func TestOnlyProcessIsDefault(t *testing.T) {
	rt := runtimejson.Runtime{Workers: map[string]runtimejson.Worker{"clock": {Command: "tick"}}}
	if got := process.FromRuntime(rt, process.Launcher{}); !got[0].Default {
		t.Fatalf("the only process is not the default: %+v", got)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"abc": "abc", "": "''", "a b": "'a b'", "it's": `'it'\''s'`, "$PORT": "'$PORT'"} {
		if got := process.ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
