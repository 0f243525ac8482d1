package docker_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e"
	"github.com/nix-buildpack/nix-buildpack/e2e/docker"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// stockRelocate is the relocation setting the stock builds pass: none,
// auto relocates on a builder that shows /nix neither natively nor through
// a user namespace.
var stockRelocate []string

// TestStock builds with `pack build` on a builder shaped like the ones users
// have (scripts/docker/stock-images.sh: Debian bookworm minbase, a cnb
// user, no proot, no /nix, no nix-bin) under Docker's default seccomp
// profile, which refuses user namespaces: the build runs Nix through the
// proot bundled in the buildpack, and the image runs the app relocated,
// with no /nix at all. For the docs' static site and for a dynamically
// linked ELF program whose loader and libraries are in another store path;
// the second is then rebuilt warm.
func TestStock(t *testing.T) {
	start := time.Now()
	env, cnb := startPackaged(t, "debootstrap", "nix-store", "patchelf", "ldd")
	if err := env.MakeStockBuilder(cnb); err != nil {
		t.Fatal(err)
	}
	t.Logf("dockerd, package and stock builder ready in %s", time.Since(start).Round(time.Millisecond))

	t.Run("Confinement", func(t *testing.T) { stockConfinement(t, env) })
	t.Run("StaticHello", func(t *testing.T) {
		dir := t.TempDir()
		if err := docker.App(testenv.RepoRoot(), "static-hello", dir); err != nil {
			t.Fatal(err)
		}
		if err := testenv.Channel(filepath.Join(dir, "nixpkgs"), "/bin/busybox"); err != nil {
			t.Fatal(err)
		}
		image := "nixbp-e2e/stock-static-hello"
		stockBuild(t, env, image, dir, true, "--env", "BP_NIX_NIXPKGS=nixpkgs")
		serveRelocated(t, env, image, map[string]string{"/": "Hello from Nix!", "/docs/": "<html"})
	})
	t.Run("DynamicELF", func(t *testing.T) {
		dir := t.TempDir()
		if err := docker.App(testenv.RepoRoot(), "dyn-web", dir); err != nil {
			t.Fatal(err)
		}
		if err := e2e.DynamicELFApp(filepath.Join(testenv.RepoRoot(), "fixtures", "apps", "dyn-web"), dir); err != nil {
			t.Fatal(err)
		}
		image := "nixbp-e2e/stock-dyn-web"
		want := map[string]string{"/": "Hello from a dynamic ELF program, libraries in /tmp/"}
		stockBuild(t, env, image, dir, true)
		serveRelocated(t, env, image, want)

		out := stockBuild(t, env, image, dir, false)
		for _, w := range []string{"Reusing Nix", "Relocating the runtime closure to /tmp/.nixs (0 of 3 store paths"} {
			if !strings.Contains(out, w) {
				t.Errorf("warm pack build output lacks %q:\n%s", w, out)
			}
		}
		reused := regexp.MustCompile(`Reusing layer 'nix-buildpack/nix:[^']+'`).FindAllString(out, -1)
		if len(reused) != 5 || strings.Contains(out, "Adding layer 'nix-buildpack/nix:") {
			t.Errorf("the warm build reused %d of the 5 launch layers (3 store paths, view, launcher) of the previous image:\n%s", len(reused), out)
		}
		serveRelocated(t, env, image, want)
	})
}

// stockConfinement shows that the stock images cannot pass by accident:
// no /nix, no proot, no nix, and user namespaces refused under Docker's
// default seccomp profile (and allowed without it, so the refusal is the
// profile's, as on a user's Docker or Kubernetes).
func stockConfinement(t *testing.T, env *docker.Env) {
	probe := `ls -d /nix 2>&1; command -v proot nix nix-build; unshare -Ur true 2>&1; echo status=$?`
	for _, image := range []string{docker.StockBuildImage, docker.StockRunImage} {
		out, err := env.Docker(time.Minute, "run", "--rm", "--entrypoint", "/bin/sh", image, "-c", probe)
		if err != nil {
			t.Fatal(err)
		}
		want := "ls: cannot access '/nix': No such file or directory\nunshare: unshare failed: Operation not permitted\nstatus=1\n"
		if out != want {
			t.Errorf("%s under the default seccomp profile: %q, want %q", image, out, want)
		}
		out, err = env.Docker(time.Minute, "run", "--rm", "--security-opt", "seccomp=unconfined", "--entrypoint", "/bin/sh", image,
			"-c", "unshare -Ur true 2>&1; echo status=$?")
		if err != nil || out != "status=0\n" {
			t.Errorf("%s with seccomp=unconfined: unshare -Ur: %q, %v; want status=0 (else the refusal above is not the profile's)", image, out, err)
		}
	}
}

// stockBuild runs `pack build` on the stock builder (cold: no image, no
// cache) and expects Nix to have run through the bundled proot.
func stockBuild(t *testing.T, env *docker.Env, image, dir string, cold bool, extra ...string) string {
	t.Helper()
	// No network here: substituters off, as for a user behind a firewall.
	args := append(append([]string{"--env", "BP_NIX_SUBSTITUTERS=none"}, stockRelocate...), extra...)
	how := "warm"
	if cold {
		_, _ = env.Docker(time.Minute, "rmi", "-f", image)
		args, how = append(args, "--clear-cache"), "cold"
	}
	out, took, err := env.BuildWith(docker.StockBuilder, image, dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s pack build of %s on %s: %s", how, image, docker.StockBuilder, took.Round(time.Millisecond))
	if !strings.Contains(out, "Successfully built image") {
		t.Fatalf("pack build output:\n%s", out)
	}
	logLines(t, out, "Nix", "proot", "Relocat", "RELOCATE", "Reusing layer", "Adding layer")
	if w := "relocating the closure to /tmp/.nixs"; cold && !strings.Contains(out, w) {
		t.Errorf("the cold build did not relocate: its log lacks %q:\n%s", w, out)
	}
	// The image has no proot (stockConfinement): the one that ran is the
	// buildpack's.
	for _, w := range []string{"userns: unprivileged user namespaces are refused here", "/nix through proot /cnb/buildpacks/", "/bin/proot (bundled)"} {
		if cold && !strings.Contains(out, w) {
			t.Errorf("the cold build log lacks %q (user namespaces refused, Nix run through the bundled proot):\n%s", w, out)
		}
	}
	return out
}

// serveRelocated runs image on its run image under the default seccomp
// profile, expects each path's body to hold its text and the launcher to
// have run the app relocated, stops it as Docker does, and shows that the
// app's container refuses user namespaces too.
func serveRelocated(t *testing.T, env *docker.Env, image string, want map[string]string) {
	t.Helper()
	c, err := env.Run(image)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Remove()
	for path, text := range want {
		status, body, err := c.GetPath(path, 20*time.Second)
		if err != nil || status != 200 || !strings.Contains(body, text) {
			t.Fatalf("GET %s on %s = %d %q, %v; want 200 with %q\n%s", path, image, status, body, err, text, c.Logs())
		}
	}
	code, took, err := c.Stop()
	if err != nil {
		t.Fatal(err)
	}
	logs := c.Logs()
	if code != 143 || took > 5*time.Second {
		t.Errorf("docker stop %s: exit %d after %s, want 143 (SIGTERM reached the app)\n%s", image, code, took.Round(time.Millisecond), logs)
	}
	const relocated = "nixbp-launch: no /nix needed: the closure is relocated to /tmp/"
	if !strings.Contains(logs, relocated) {
		t.Errorf("%s did not run relocated: its log lacks %q:\n%s", image, relocated, logs)
	}
	logLines(t, logs, "nixbp-launch")
	out, _ := env.Docker(time.Minute, "run", "--rm", "--entrypoint", "/bin/sh", image, "-c", "unshare -Ur true 2>&1; echo status=$?")
	if !strings.Contains(out, "Operation not permitted") {
		t.Errorf("unshare -Ur in %s's container: %q, want it refused", image, out)
	}
}

// logLines logs the lines of out that hold one of words.
func logLines(t *testing.T, out string, words ...string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		for _, w := range words {
			if strings.Contains(line, w) {
				t.Log(strings.TrimSpace(line))
				break
			}
		}
	}
}
