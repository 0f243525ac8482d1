package e2e_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// channelApp is a fixture app written as the Hop3 docs write apps: it
// imports <nixpkgs> (BP_NIX_NIXPKGS points at the test channel) or takes
// nixpkgs as a flake input locked to it.
type channelApp struct {
	app string
	// gets maps a path to what the web process's answer must contain.
	gets map[string][]string
	// logs are what the build log must say.
	logs []string
}

var channelApps = []channelApp{
	{app: "static-hello", gets: map[string][]string{"/": {"Hello World!"}, "/docs/": {"Nested page"}},
		logs: []string{"<nixpkgs> is ", "from BP_NIX_NIXPKGS", "nix-build hop3.nix -A package"}},
	{app: "flask-shaped", gets: map[string][]string{"/cgi-bin/hello": {"Hello from hop3.toml", "APP_MODE=runtime.json"}}},
	// The web worker runs ${pkgs.busybox}/bin/httpd, which the package does
	// not reference: only the ADR 006 attributes' context brings it.
	{app: "adr006-server", gets: map[string][]string{"/": {"Hello from adr006-server"}},
		logs: []string{"The workers/env/path attributes refer to 1 store paths outside"}},
	{app: "quoted-worker", gets: map[string][]string{"/": {"Hello from a directory with a space"}}},
	{app: "flake-app", gets: map[string][]string{"/": {"Hello from flake-app"}},
		logs: []string{"Building flake.nix with nix build", "nix --extra-experimental-features 'nix-command flakes' build path:"}},
}

// TestChannelAppsThroughTheLifecycle builds the apps that import <nixpkgs>
// (and the flake app) with the CNB lifecycle and serves them from the
// launch layers.
func TestChannelAppsThroughTheLifecycle(t *testing.T) {
	en := setup(t)
	for _, c := range channelApps {
		t.Run(c.app, func(t *testing.T) {
			w, err := e2e.NewWorkspace(openTempDir(t), en.lifecycle, e2e.Options{
				AppSource: filepath.Join(testenv.RepoRoot(), "fixtures", "apps", c.app), Buildpack: en.buildpack,
				NixTarball: en.tarball, Busybox: en.busybox, Nixpkgs: true, UID: uid, GID: gid})
			if err != nil {
				t.Fatal(err)
			}
			if out, err := w.Detect(); err != nil {
				t.Fatalf("detect: %v\n%s", err, out)
			}
			out, err := w.Build()
			if err != nil {
				t.Fatalf("build: %v\n%s", err, out)
			}
			checkLog(t, out, c.logs)
			port, err := e2e.FreePort()
			if err != nil {
				t.Fatal(err)
			}
			var log strings.Builder
			cmd, err := w.Launch("web", map[string]string{"PORT": itoa(port), "BIND_ADDRESS": "127.0.0.1"}, &log)
			if err != nil {
				t.Fatal(err)
			}
			getAll(t, port, c.gets, &log)
			if _, err := e2e.Stop(cmd); err != nil {
				t.Fatalf("stopping web: %v\n%s", err, log.String())
			}
		})
	}
}

// TestChannelAppsHeroku compiles the same apps with the Heroku-style
// front-end and serves them from the slug, moved to its run directory.
func TestChannelAppsHeroku(t *testing.T) {
	en := setupHeroku(t)
	for _, c := range channelApps {
		t.Run(c.app, func(t *testing.T) {
			a, err := e2e.NewHerokuApp(openTempDir(t), filepath.Join(openTempDir(t), "cache"), e2e.HerokuOptions{
				AppSource: filepath.Join(testenv.RepoRoot(), "fixtures", "apps", c.app), Buildpack: en.buildpack,
				Busybox: en.busybox, EnvDir: map[string]string{"NIXBP_NIX_TARBALL": en.tarball}, Nixpkgs: true, UID: uid, GID: gid})
			if err != nil {
				t.Fatal(err)
			}
			out, err := a.Compile(nil)
			if err != nil {
				t.Fatalf("compile: %v\n%s", err, out)
			}
			checkLog(t, out, c.logs)
			release, err := a.Release()
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Slug(); err != nil {
				t.Fatal(err)
			}
			command, err := a.ProcessCommand(release, "web")
			if err != nil {
				t.Fatal(err)
			}
			port, err := e2e.FreePort()
			if err != nil {
				t.Fatal(err)
			}
			var log strings.Builder
			cmd, err := a.Start(command, map[string]string{"PORT": itoa(port), "BIND_ADDRESS": "127.0.0.1"}, &log)
			if err != nil {
				t.Fatal(err)
			}
			getAll(t, port, c.gets, &log)
			if _, err := e2e.StopDyno(cmd); err != nil {
				t.Fatalf("stopping web: %v\n%s", err, log.String())
			}
		})
	}
}

func checkLog(t *testing.T, out string, wants []string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("build log lacks %q:\n%s", want, out)
		}
	}
}

// getAll fetches each path from the web process on port and checks that
// the answer is 200 and contains what it must.
func getAll(t *testing.T, port int, gets map[string][]string, log *strings.Builder) {
	t.Helper()
	for path, wants := range gets {
		status, body, err := e2e.Get("http://127.0.0.1:"+itoa(port)+path, 15*time.Second)
		if err != nil || status != 200 {
			t.Fatalf("GET %s = %d %q, %v; want 200\nprocess log:\n%s", path, status, body, err, log.String())
		}
		for _, want := range wants {
			if !strings.Contains(body, want) {
				t.Errorf("GET %s = %q; want it to contain %q", path, body, want)
			}
		}
		t.Logf("GET %s: 200, contains %q", path, wants)
	}
}

// TestNixpkgsTarballKeptBetweenBuilds compiles flask-shaped twice with the
// same CACHE_DIR and <nixpkgs> a file:// tarball of the test channel, which
// is deleted after the first compile. The first compile unpacks it natively
// (package nixpkgs; Nix does not unpack it again) as an unprivileged user;
// the second finds the unpacked store path in the build cache (kept from
// the store collection), so it fetches nothing.
func TestNixpkgsTarballKeptBetweenBuilds(t *testing.T) {
	en := setupHeroku(t)
	cache := filepath.Join(openTempDir(t), "cache")
	tarball := filepath.Join(openTempDir(t), "nixpkgs.tar.xz")
	src := filepath.Join(testenv.RepoRoot(), "fixtures", "apps", "flask-shaped")
	compile := func(label string) string {
		a, err := e2e.NewHerokuApp(openTempDir(t), cache, e2e.HerokuOptions{AppSource: src, Buildpack: en.buildpack,
			Busybox: en.busybox, Nixpkgs: true, UID: uid, GID: gid,
			EnvDir: map[string]string{"NIXBP_NIX_TARBALL": en.tarball, "BP_NIX_NIXPKGS": "file://" + tarball}})
		if err != nil {
			t.Fatal(err)
		}
		if label == "first" {
			if out, err := exec.Command("tar", "-cJf", tarball, "-C", filepath.Dir(a.Nixpkgs), filepath.Base(a.Nixpkgs)).CombinedOutput(); err != nil {
				t.Fatalf("tar: %v\n%s", err, out)
			}
			if err := os.Chmod(tarball, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out, err := a.Compile(nil)
		if err != nil {
			t.Fatalf("%s compile: %v\n%s", label, err, out)
		}
		return out
	}
	first := compile("first")
	unpacked := regexp.MustCompile(`<nixpkgs> is (/nix/store/[0-9a-z]{32}-source): unpacked`).FindStringSubmatch(first)
	if unpacked == nil || strings.Contains(first, "into the Git cache") {
		t.Fatalf("first compile: the buildpack did not unpack <nixpkgs> natively (or Nix unpacked it too):\n%s", first)
	}
	if !strings.Contains(first, "Keeping <nixpkgs> (file://"+tarball+", unpacked at "+unpacked[1]) || !strings.Contains(first, "Store kept") {
		t.Fatalf("first compile does not keep <nixpkgs> through the store collection:\n%s", first)
	}
	if err := os.Remove(tarball); err != nil {
		t.Fatal(err)
	}
	second := compile("second")
	if !strings.Contains(second, "<nixpkgs> is "+unpacked[1]+": the tarball is gone; the copy unpacked before is kept") ||
		strings.Contains(second, "unable to unpack <nixpkgs>") {
		t.Fatalf("second compile, tarball gone: <nixpkgs> not reused from the build cache:\n%s", second)
	}
}
