package guard_test

import (
	"reflect"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/guard"
	"github.com/nix-buildpack/nix-buildpack/internal/prune"
)

func TestCommandStorePaths(t *testing.T) {
	const x = "/nix/store/wq3v0j1ljw665pm8i3g7gx2744sp03py-x"
	const bb = "/nix/store/b8zzzm23p9pd6h8zbaiz806gqid7q81v-bb"
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{name: "plain words", in: bb + "/bin/busybox httpd -f -h " + x + "/www", want: []string{bb + "/bin/busybox", x + "/www"}},
		{name: "single quotes keep a space", in: `busybox httpd -h '` + x + `/my www'`, want: []string{x + "/my www"}},
		{name: "double quotes keep a space", in: `busybox httpd -h "` + x + `/my www/"`, want: []string{x + "/my www"}},
		{name: "escaped space", in: `busybox httpd -h ` + x + `/my\ www`, want: []string{x + "/my www"}},
		{name: "quotes inside a word", in: `cat ` + x + `/"a b"/c`, want: []string{x + "/a b/c"}},
		{name: "default of a parameter expansion", in: `serve --root "${ROOT:-` + x + `/www}"`, want: []string{x + "/www"}},
		{name: "a variable ends the path", in: `serve ` + x + `/$SITE/index.html`, want: []string{x}},
		{name: "PATH-style list", in: `env PATH=` + bb + `/bin:` + x + `/bin run`, want: []string{bb + "/bin", x + "/bin"}},
		{name: "list, pipe and substitution", in: `a && ` + bb + `/bin/b | c $(cat ` + x + `/conf)`, want: []string{bb + "/bin/b", x + "/conf"}},
		{name: "same path twice counts once", in: x + "/bin/a; " + x + "/bin/a", want: []string{x + "/bin/a"}},
		{name: "no store path", in: `busybox httpd -f -p "$BIND_ADDRESS:$PORT"`, want: nil},
		{name: "not a store path name", in: `cat /nix/store/short-x`, want: nil},
		{name: "unparsable line is searched as text", in: `run '` + x + `/a b`, want: []string{x + "/a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := guard.CommandStorePaths(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("CommandStorePaths(%q) =\n%q\nwant\n%q", tt.in, got, tt.want)
			}
		})
	}
}

// TestGuardQuotedWorker is the fault from issue 11: a worker serving a
// directory whose name holds a space passes the guard when the directory is
// kept, and is named when a rule removes it.
func TestGuardQuotedWorker(t *testing.T) {
	const x = "/nix/store/wq3v0j1ljw665pm8i3g7gx2744sp03py-x"
	cmd := `busybox httpd -f -h '` + x + `/my www'`
	var needs []guard.Need
	for _, p := range guard.CommandStorePaths(cmd) {
		needs = append(needs, guard.Need{Path: p, By: "runtime.json workers.web"})
	}
	entry := func(rel string) prune.Entry { return prune.Entry{Path: rel, Mode: 0o755 | 1<<31} }
	kept := &prune.Report{Kept: []prune.Entry{entry("store"), entry("store/wq3v0j1ljw665pm8i3g7gx2744sp03py-x"),
		entry("store/wq3v0j1ljw665pm8i3g7gx2744sp03py-x/my www")}}
	if err := guard.Guard(kept, needs, nil); err != nil {
		t.Fatalf("Guard() with the directory kept = %v", err)
	}
	dropped := &prune.Report{Kept: kept.Kept[:2]}
	if err := guard.Guard(dropped, needs, nil); err == nil {
		t.Fatal("Guard() with the directory left out = nil; want an error naming it")
	}
}
