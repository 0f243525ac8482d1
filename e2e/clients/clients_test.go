package clients_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e"
	"github.com/nix-buildpack/nix-buildpack/e2e/clients"
	"github.com/nix-buildpack/nix-buildpack/e2e/docker"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// deployApps are deployed by every client, cold then warm with the same
// cache: the docs' static site (Hop3's static-hello verbatim, against the
// test channel), a web app whose worker reads $PORT, the ADR 006 app
// (workers as attributes) and the quoted worker (a single-quoted path with
// a space).
var deployApps = []struct {
	name    string
	channel bool
	// want maps a path to a text its body must hold.
	want map[string]string
}{
	{"static-hello", true, map[string]string{"/": "Hello from Nix!", "/docs/": "<html"}},
	{"hello-web", false, map[string]string{"/": "Hello from hello-web, built by Nix"}},
	{"adr-attrs", false, map[string]string{"/": "Hello from adr-attrs"}},
	{"quoted-worker", true, map[string]string{"/": "Hello from a directory with a space"}},
}

// within bounds every wait for an app's answer (a loaded machine).
const within = 3 * time.Minute

// deploy is one row of the table the test logs at the end.
type deploy struct {
	client, app, phase, strategy, http string
	build                              time.Duration
}

var (
	tableMu sync.Mutex
	table   []deploy
)

func record(d deploy) {
	tableMu.Lock()
	defer tableMu.Unlock()
	table = append(table, d)
}

// TestClients deploys the apps with Dokku's herokuish and Cloud Foundry's
// builder and launcher, each as its platform runs it, and logs the table
// of deploys (app, client, cold or warm, the launcher's strategy, HTTP).
func TestClients(t *testing.T) {
	e := setup(t)
	t.Cleanup(func() {
		var b strings.Builder
		fmt.Fprintf(&b, "%-14s %-13s %-5s %-9s %-22s %s\n", "app", "client", "build", "took", "strategy", "HTTP")
		for _, d := range table {
			fmt.Fprintf(&b, "%-14s %-13s %-5s %-9s %-22s %s\n", d.app, d.client, d.phase, d.build.Round(time.Second), d.strategy, d.http)
		}
		t.Logf("deploys:\n%s", b.String())
	})
	t.Run("Confinement", func(t *testing.T) { confinement(t, e) })
	t.Run("Dokku", func(t *testing.T) {
		for _, app := range deployApps {
			t.Run(app.name, func(t *testing.T) { dokkuColdWarm(t, e, app.name, app.channel, app.want) })
		}
		t.Run("BuildpackTest", func(t *testing.T) { dokkuBuildpackTest(t, e) })
	})
	t.Run("CloudFoundry", func(t *testing.T) {
		for _, app := range deployApps {
			t.Run(app.name, func(t *testing.T) { cfColdWarm(t, e, app.name, app.channel, app.want) })
		}
	})
}

// setup starts a private Docker daemon with no bridge (every container
// here runs with --network none), packages the buildpack and makes the
// clients' images.
func setup(t *testing.T) *clients.Env {
	t.Helper()
	if os.Getuid() != 0 {
		testenv.Missing(t, "the client tests run as root, to run their own dockerd")
	}
	for _, tool := range []string{"dockerd", "docker", "debootstrap"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, tool+" is not installed (scripts/setup.sh)")
		}
	}
	tools := testenv.ToolsDir()
	for _, f := range []string{"herokuish-fbc485e/herokuish", "buildpackapplifecycle-caaa1a0/builder"} {
		if _, err := os.Stat(filepath.Join(tools, f)); err != nil {
			testenv.Missing(t, f+" is not built (scripts/tools.sh herokuish cflifecycle)")
		}
	}
	// A daemon of this package's own: another package's tests may stop
	// theirs while these run.
	base := os.Getenv("NIXBP_DOCKER_DIR")
	if base == "" {
		base = filepath.Join(tools, "docker")
	}
	t.Setenv("NIXBP_DOCKER_DIR", filepath.Join(base, "clients"))
	t.Setenv("NIXBP_DOCKER_BRIDGE", "none")
	start := time.Now()
	d, err := docker.Start(testenv.RepoRoot(), tools)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Stop(); err != nil {
			t.Errorf("stopping dockerd: %v", err)
		}
	})
	shared := t.TempDir()
	tarball, err := e2e.Readable(testenv.NixTarball(t), shared)
	if err != nil {
		t.Fatal(err)
	}
	e, err := clients.Prepare(d, filepath.Join(shared, "out"), tarball)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dockerd, packages and client images (%s, %s) ready in %s", e.Herokuish, e.CFLinuxFS, time.Since(start).Round(time.Millisecond))
	return e
}

// newApp lays out a fresh checkout of a fixture app (a new push) with the
// config vars a user sets for an offline build: the Nix tarball, no
// substituters, and for channel apps the test channel in the app.
func newApp(t *testing.T, e *clients.Env, name string, channel bool) *clients.App {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := docker.App(testenv.RepoRoot(), name, src); err != nil {
		t.Fatal(err)
	}
	config := map[string]string{"BP_NIX_TARBALL": e.TarballIn(), "BP_NIX_SUBSTITUTERS": "none"}
	if channel {
		if err := testenv.Channel(filepath.Join(src, "nixpkgs"), "/bin/busybox"); err != nil {
			t.Fatal(err)
		}
		config["BP_NIX_NIXPKGS"] = "nixpkgs"
	}
	a, err := clients.NewApp(name, src, filepath.Join(t.TempDir(), "in"), config)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// checkLog checks a build log: wants are texts it must hold, and a warm
// build must not have run a Nix build.
func checkLog(t *testing.T, what, log, phase string, wants ...string) {
	t.Helper()
	// User namespaces are refused: Nix runs through the bundled proot.
	wants = append(wants, ", /nix through proot ", "(bundled)")
	if phase == "cold" {
		wants = append(wants, "-----> Installed Nix", "-----> Building hop3.nix with nix-build")
	} else {
		wants = append(wants, "-----> Nix store in CACHE_DIR: ", "-----> Reusing Nix "+testenv.NixVersion)
		if strings.Contains(log, "building '/nix/store") {
			t.Errorf("the warm %s ran a Nix build instead of reusing the cache:\n%s", what, log)
		}
	}
	for _, w := range wants {
		if !strings.Contains(log, w) {
			t.Errorf("the %s %s lacks %q:\n%s", phase, what, w, log)
		}
	}
}

// serve checks the app's answers and the launcher's strategy, and records
// the deploy.
func serve(t *testing.T, r *clients.Running, row deploy, want map[string]string, strategy, dirPrefix string) {
	t.Helper()
	row.http = "200"
	for path, text := range want {
		status, body, err := r.Get(path, within)
		if err != nil || status != 200 || !strings.Contains(body, text) {
			t.Errorf("GET %s = %d %q, %v; want 200 with %q\n%s", path, status, body, err, text, r.Logs())
			row.http = fmt.Sprint(status)
		}
	}
	got, dir := clients.Strategy(r.Logs())
	row.strategy = got
	if dir != "" {
		row.strategy += " " + dir
	}
	if got != strategy || !strings.HasPrefix(dir, dirPrefix) {
		t.Errorf("the launcher's strategy = %q %q, want %q %q; its output:\n%s", got, dir, strategy, dirPrefix, r.Logs())
	}
	record(row)
}

// dokkuColdWarm deploys an app twice with herokuish, as two `git push`es
// to Dokku: a fresh checkout each time, the same cache.
func dokkuColdWarm(t *testing.T, e *clients.Env, name string, channel bool, want map[string]string) {
	cache := t.TempDir()
	image := "nixbp-e2e/dokku-" + name
	for _, phase := range []string{"cold", "warm"} {
		a := newApp(t, e, name, channel)
		if err := e.UseTgz(a); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		log, err := e.DokkuBuild(a, cache, image)
		took := time.Since(start)
		if err != nil {
			t.Fatalf("%s build: %v\n%s", phase, err, log)
		}
		t.Logf("%s herokuish build of %s: %s", phase, name, took.Round(time.Millisecond))
		checkLog(t, "herokuish build", log, phase, "-----> Nix app detected", "Relocating the runtime closure to /app/.nixs",
			"Procfile declares types -> web")
		r, err := e.DokkuStart(image)
		if err != nil {
			t.Fatal(err)
		}
		serve(t, r, deploy{client: "dokku", app: name, phase: phase, build: took}, want, "relocate", "/app/.nixs")
		r.Remove()
	}
}

// cfColdWarm stages an app twice with Cloud Foundry's builder (detection,
// the buildpack given as the zip's URL), default settings but the offline
// ones, and runs each droplet with CF's launcher.
func cfColdWarm(t *testing.T, e *clients.Env, name string, channel bool, want map[string]string) {
	cache := t.TempDir()
	for _, phase := range []string{"cold", "warm"} {
		a := newApp(t, e, name, channel)
		out := t.TempDir()
		start := time.Now()
		log, err := e.CFStage(a, cache, out, []string{e.ZipURL()}, false)
		took := time.Since(start)
		if err != nil {
			t.Fatalf("%s staging: %v\n%s", phase, err, log)
		}
		t.Logf("%s CF staging of %s: %s", phase, name, took.Round(time.Millisecond))
		checkLog(t, "staging", log, phase, "Downloaded buildpack `"+e.ZipURL()+"`", "Relocating the runtime closure to /tmp/",
			"The launcher links /tmp/")
		res, err := clients.ReadCFResult(out)
		if err != nil {
			t.Fatal(err)
		}
		if bps := res.LifecycleMetadata.Buildpacks; len(bps) != 1 || bps[0].Name != "Nix" || bps[0].Key != e.ZipURL() {
			t.Errorf("result.json's buildpacks = %+v, want the zip detected as Nix", bps)
		}
		web := res.ProcessTypes["web"]
		if !strings.Contains(web, "nixbp-launch") {
			t.Fatalf("result.json's web process = %q (from the Procfile, parsed as YAML), want the launcher's line", web)
		}
		r, err := e.CFStart(name, out, web)
		if err != nil {
			t.Fatal(err)
		}
		serve(t, r, deploy{client: "cloudfoundry", app: name, phase: phase, build: took}, want, "relocate", "/tmp/")
		r.Remove()
	}
}

// dokkuBuildpackTest runs `herokuish buildpack test` (Heroku CI's testpack
// API, as GitLab's Auto Test runs it) on the docs' static site: herokuish
// runs bin/test-compile, moves the build to /app, sources .profile.d and
// runs bin/test, which checks hop3.toml's [[test.validations]] against the
// web process and prints TAP.
func dokkuBuildpackTest(t *testing.T, e *clients.Env) {
	a := newApp(t, e, "static-hello", true)
	if err := e.UseTgz(a); err != nil {
		t.Fatal(err)
	}
	out, err := e.DokkuTest(a, t.TempDir())
	if err != nil {
		t.Fatalf("herokuish buildpack test: %v\n%s", err, out)
	}
	for _, w := range []string{"-----> Nix app detected", "-----> Building hop3.nix with nix-build", "1..1",
		`ok 1 - GET / answers [200] containing "Hello World"`} {
		if !strings.Contains(out, w) {
			t.Errorf("herokuish buildpack test's output lacks %q:\n%s", w, out)
		}
	}
}

// confinement shows what the deploys run under: Docker's default seccomp
// profile, which refuses user namespaces in both images (so the build
// cannot take the userns strategy), no /nix, nix or proot, and no network
// but loopback.
func confinement(t *testing.T, e *clients.Env) {
	for _, image := range []string{e.Herokuish, e.CFLinuxFS} {
		out, err := e.Run(image, `if unshare -Ur true 2>&1; then echo USERNS-ALLOWED; fi; `+
			`ls -d /nix 2>&1; command -v nix proot || echo no-nix-no-proot; ls /sys/class/net`)
		if err != nil || strings.Contains(out, "USERNS-ALLOWED") || !strings.Contains(out, "Operation not permitted") ||
			!strings.Contains(out, "No such file or directory") || !strings.Contains(out, "no-nix-no-proot") || strings.TrimSpace(lastLines(out, 1)) != "lo" {
			t.Errorf("%s under the default seccomp profile with --network none: %v\n%s", image, err, out)
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
