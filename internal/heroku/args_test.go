package heroku

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestCompileArgs: bin/compile takes BUILD_DIR CACHE_DIR [ENV_DIR] and
// ignores what a platform adds after them; without ENV_DIR it is Cloud
// Foundry's builder calling, and the slug runs at /home/vcap/app.
func TestCompileArgs(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want Dirs
		err  string
	}{
		{args: nil, err: "usage: bin/compile BUILD_DIR CACHE_DIR [ENV_DIR]"},
		{args: []string{"/b"}, err: "usage:"},
		{args: []string{"/b", "/c"}, want: Dirs{Build: "/b", Cache: "/c", RunDir: CloudFoundryAppDir}},
		{args: []string{"/b", "/c", "/e"}, want: Dirs{Build: "/b", Cache: "/c", Env: "/e"}},
		{args: []string{"/b", "/c", "/e", "extra", "more"}, want: Dirs{Build: "/b", Cache: "/c", Env: "/e"}},
		{args: []string{"b", "c", "e"}, want: Dirs{Build: filepath.Join(wd, "b"), Cache: filepath.Join(wd, "c"), Env: filepath.Join(wd, "e")}},
	} {
		got, err := CompileArgs(tc.args)
		if tc.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.err)) || tc.err == "" && (err != nil || !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("CompileArgs(%q) = %+v, %v; want %+v, %q", tc.args, got, err, tc.want, tc.err)
		}
	}
}

// TestReleaseArgs: bin/release BUILD_DIR prints the release YAML and
// ignores further arguments (herokuish passes CACHE_DIR too).
func TestReleaseArgs(t *testing.T) {
	build := t.TempDir()
	if err := writeFile(filepath.Join(build, ReleaseFile), "--- {}\n", 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{build}, {build, "/tmp/cache"}, {build, "/tmp/cache", "x"}} {
		var stdout, stderr strings.Builder
		if code := ReleaseMain(args, &stdout, &stderr); code != 0 || stdout.String() != "--- {}\n" || stderr.Len() > 0 {
			t.Errorf("ReleaseMain(%q) = %d, %q, %q", args, code, stdout.String(), stderr.String())
		}
	}
	var stdout, stderr strings.Builder
	if code := ReleaseMain(nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "usage: bin/release BUILD_DIR") {
		t.Errorf("ReleaseMain() = %d, %q", code, stderr.String())
	}
}

// TestRunDir: where the slug runs, as compile sees it.
func TestRunDir(t *testing.T) {
	for _, tc := range []struct {
		home string
		dirs Dirs
		want string
	}{
		{home: "/app", dirs: Dirs{Build: "/tmp/build_x", Env: "/e"}, want: "/app"},     // Heroku
		{home: "/app", dirs: Dirs{Build: "/tmp/build", Env: "/tmp/env"}, want: "/app"}, // herokuish
		{home: "/home/vcap", dirs: Dirs{Build: "/tmp/app", RunDir: CloudFoundryAppDir}, want: "/home/vcap/app"},
		{home: "/home/u", dirs: Dirs{Build: "/srv/b", Env: "/e"}, want: ""},
	} {
		if got := runDir(tc.home, tc.dirs); got != tc.want {
			t.Errorf("runDir(%q, %+v) = %q, want %q", tc.home, tc.dirs, got, tc.want)
		}
	}
}
