package process_test

import (
	"reflect"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/process"
	"github.com/nix-buildpack/nix-buildpack/internal/runtimejson"
)

func TestFromRuntime(t *testing.T) {
	l := process.Launcher{Path: "/l/bin/nixbp-launch", NixDir: "/l/nix"}
	web := `busybox httpd -f -p "$BIND_ADDRESS:$PORT"`
	tests := []struct {
		name    string
		workers map[string]runtimejson.Worker
		want    []process.Process
	}{
		{name: "web first, then by name", workers: map[string]runtimejson.Worker{
			"worker": {Command: "q --jobs 2"}, "web": {Command: web}, "docs": {Static: "/nix/store/x-site"}},
			want: []process.Process{
				{Type: "web", Launcher: l.Path, NixDir: l.NixDir, Line: web, Default: true},
				{Type: "docs", Launcher: l.Path, NixDir: l.NixDir, Static: "/nix/store/x-site"},
				{Type: "worker", Launcher: l.Path, NixDir: l.NixDir, Line: "q --jobs 2"},
			}},
		{name: "the only process is the default", workers: map[string]runtimejson.Worker{"clock": {Command: "tick"}},
			want: []process.Process{{Type: "clock", Launcher: l.Path, NixDir: l.NixDir, Line: "tick", Default: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := process.FromRuntime(runtimejson.Runtime{Workers: tt.workers}, l)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("FromRuntime() =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestProcessCommand(t *testing.T) {
	tests := []struct {
		name    string
		p       process.Process
		argv    []string
		line    string
		display string
	}{
		{name: "command line",
			p:       process.Process{Launcher: "/l/nixbp-launch", NixDir: "/l/nix", Line: `busybox httpd -f -p "$PORT"`},
			argv:    []string{"/l/nixbp-launch", "--nix-dir", "/l/nix", "--", `busybox httpd -f -p "$PORT"`},
			line:    `/l/nixbp-launch --nix-dir /l/nix -- 'busybox httpd -f -p "$PORT"'`,
			display: `busybox httpd -f -p "$PORT"`},
		{name: "static site",
			p:       process.Process{Launcher: "/l/nixbp-launch", NixDir: "/l/my nix", Static: "/nix/store/x-site/my www"},
			argv:    []string{"/l/nixbp-launch", "--nix-dir", "/l/my nix", "--static", "/nix/store/x-site/my www"},
			line:    `/l/nixbp-launch --nix-dir '/l/my nix' --static '/nix/store/x-site/my www'`,
			display: "static site /nix/store/x-site/my www"},
		{name: "cron: the schedule is an argument, never part of the command",
			p:       process.Process{Launcher: "/l/nixbp-launch", NixDir: "/l/nix", Cron: "*/5 * * * *", Line: "tick", Addons: []string{"redis"}},
			argv:    []string{"/l/nixbp-launch", "--nix-dir", "/l/nix", "--addon", "redis", "--cron", "*/5 * * * *", "--", "tick"},
			line:    `/l/nixbp-launch --nix-dir /l/nix --addon redis --cron '*/5 * * * *' -- tick`,
			display: `on the schedule "*/5 * * * *": tick`},
		{name: "web after the release task, by the platform",
			p: process.Process{Launcher: "/l/nixbp-launch", NixDir: "/l/nix", Line: "serve", Release: []string{"migrate", "seed --all"},
				ReleaseByPlatform: true, Addons: []string{"postgres", "postgres:replica"}},
			argv: []string{"/l/nixbp-launch", "--nix-dir", "/l/nix", "--addon", "postgres", "--addon", "postgres:replica",
				"--release", "migrate", "--release", "seed --all", "--release-by-platform", "--", "serve"},
			line:    `/l/nixbp-launch --nix-dir /l/nix --addon postgres --addon postgres:replica --release migrate --release 'seed --all' --release-by-platform -- serve`,
			display: "serve (after the release task)"},
		{name: "the release process: the task alone",
			p:       process.Process{Launcher: "/l/nixbp-launch", NixDir: "/l/nix", Release: []string{"migrate"}, ReleaseByPlatform: true},
			argv:    []string{"/l/nixbp-launch", "--nix-dir", "/l/nix", "--release", "migrate"},
			line:    `/l/nixbp-launch --nix-dir /l/nix --release migrate`,
			display: "release task: migrate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Argv(); !reflect.DeepEqual(got, tt.argv) {
				t.Errorf("Argv() = %q, want %q", got, tt.argv)
			}
			if got := append([]string{tt.p.Launcher}, tt.p.Args()...); !reflect.DeepEqual(got, tt.argv) {
				t.Errorf("Launcher + Args() = %q, want %q", got, tt.argv)
			}
			if got := tt.p.CommandLine(); got != tt.line {
				t.Errorf("CommandLine() = %s, want %s", got, tt.line)
			}
			if got := tt.p.Display(); got != tt.display {
				t.Errorf("Display() = %s, want %s", got, tt.display)
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"abc": "abc", "": "''", "a b": "'a b'", "it's": `'it'\''s'`, "$PORT": "'$PORT'"} {
		if got := process.ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
