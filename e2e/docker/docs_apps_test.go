package docker_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e/docker"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestPackBuildDocsApps builds the Hop3 docs' apps, which import <nixpkgs>,
// with `pack build` as a user would: the test channel (fixtures/nixpkgs)
// travels in the app and BP_NIX_NIXPKGS names it, substituters are off (no
// network here). The static site verbatim serves / and a nested page, the
// Flask-shaped app its start wrapper's answer with hop3.toml's [env].
func TestPackBuildDocsApps(t *testing.T) {
	env := setup(t)
	for _, app := range []struct {
		name string
		// want maps a path to a text its body must hold.
		want map[string]string
	}{
		{"static-hello", map[string]string{"/": "Hello from Nix!", "/docs/": "<html"}},
		{"flask-shaped", map[string]string{"/cgi-bin/hello": "Hello from hop3.toml\nAPP_MODE=runtime.json"}},
	} {
		t.Run(app.name, func(t *testing.T) {
			image := "nixbp-e2e/" + app.name
			dir := t.TempDir()
			if err := docker.App(testenv.RepoRoot(), app.name, dir); err != nil {
				t.Fatal(err)
			}
			if err := testenv.Channel(filepath.Join(dir, "nixpkgs"), "/bin/busybox"); err != nil {
				t.Fatal(err)
			}
			_, _ = env.Docker(time.Minute, "rmi", "-f", image)
			out, took, err := env.Build(image, dir, "--clear-cache", "--env", "BP_NIX_NIXPKGS=nixpkgs", "--env", "BP_NIX_SUBSTITUTERS=none")
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("cold pack build of %s: %s", app.name, took.Round(time.Millisecond))
			if !strings.Contains(out, "Successfully built image") {
				t.Fatalf("pack build output:\n%s", out)
			}
			c, err := env.Run(image)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Remove()
			for path, text := range app.want {
				status, body, err := c.GetPath(path, 20*time.Second)
				if err != nil || status != 200 || !strings.Contains(body, text) {
					t.Errorf("GET %s on %s = %d %q, %v; want 200 with %q\n%s", path, image, status, body, err, text, c.Logs())
				}
			}
		})
	}
}
