package launch_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/launch"
)

func TestSimpleCommand(t *testing.T) {
	t.Setenv("PORT", "9000")
	t.Setenv("BIND_ADDRESS", "127.0.0.1")
	t.Setenv("EMPTY", "")
	tests := []struct {
		in     string
		argv   []string
		simple bool
		err    string
	}{
		{in: `busybox httpd -f -p "$BIND_ADDRESS:$PORT"`, argv: []string{"busybox", "httpd", "-f", "-p", "127.0.0.1:9000"}, simple: true},
		{in: `app --name 'a b' $EMPTY x`, argv: []string{"app", "--name", "a b", "x"}, simple: true},
		{in: `app ${PORT:-1}`, argv: []string{"app", "9000"}, simple: true},
		{in: `app "$UNSET_VAR_X"`, argv: []string{"app", ""}, simple: true},
		{in: `cd /tmp && exec app`, simple: false},
		{in: `app | tee log`, simple: false},
		{in: `app > log`, simple: false},
		{in: `FOO=1 app`, simple: false},
		{in: `app $(date)`, simple: false},
		{in: `app "unterminated`, err: "reached EOF without closing quote"},
	}
	for _, tt := range tests {
		argv, simple, err := launch.SimpleCommand(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("SimpleCommand(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || simple != tt.simple || (simple && !reflect.DeepEqual(argv, tt.argv)) {
			t.Errorf("SimpleCommand(%q) = %q, %v, %v; want %q, %v", tt.in, argv, simple, err, tt.argv, tt.simple)
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		args []string
		want launch.Invocation
		err  bool
	}{
		{args: []string{"--nix-dir", "/l/nix", "--", "web", "--port", "1"}, want: launch.Invocation{NixDir: "/l/nix", Command: "web --port 1"}},
		{args: []string{"--static", "/s"}, want: launch.Invocation{Static: "/s"}},
		{args: []string{"--nix-dir", "/l/nix"}, err: true},
		{args: []string{"--static", "/s", "--", "cmd"}, err: true},
		{args: []string{"--addon", "postgres", "--release", "migrate", "--release", "seed x", "--release-by-platform", "--", "web"},
			want: launch.Invocation{Command: "web", Addons: []string{"postgres"}, Release: []string{"migrate", "seed x"}, ReleaseByPlatform: true}},
		{args: []string{"--release", "migrate"}, want: launch.Invocation{Release: []string{"migrate"}}},
		{args: []string{"--cron", "*/5 * * * *", "--", "tick"}, want: launch.Invocation{Cron: "*/5 * * * *", Command: "tick"}},
		{args: []string{"--cron", "*/5 * * * *"}, err: true},
		{args: []string{"--cron", "*/5 * * *", "--", "tick"}, err: true},
		{args: []string{"--cron", "@hourly", "--static", "/s"}, err: true},
	}
	for _, tt := range tests {
		got, err := launch.Parse(tt.args, &strings.Builder{})
		got.Quiet = false
		if (err != nil) != tt.err || (!tt.err && !reflect.DeepEqual(got, tt.want)) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v (error %v)", tt.args, got, err, tt.want, tt.err)
		}
	}
}
