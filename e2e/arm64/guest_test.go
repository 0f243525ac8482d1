//go:build arm64emu

package arm64_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

const uid, gid = 2000, 2000

// app is a fixture app and what its web process must answer.
type app struct {
	name string
	// channel: the app imports <nixpkgs> (the test channel is made for it).
	channel bool
	// gets maps a path to a text the body must hold.
	gets map[string]string
}

var apps = map[string]app{
	"hello-web":    {name: "hello-web", gets: map[string]string{"/": "Hello from hello-web, built by Nix\n"}},
	"static-hello": {name: "static-hello", channel: true, gets: map[string]string{"/": "Hello World!", "/docs/": "Nested page"}},
}

// guestCase is one build: an app through a front-end with /nix shown
// through a strategy at build time. Every build's web process is then
// started through the launcher under both run-time strategies.
type guestCase struct{ app, frontEnd, strategy string }

func (c guestCase) name() string { return c.app + "/" + c.frontEnd + "/" + c.strategy }

// guestCases: NIXBP_ARM64_CASES=short is the one .ci/run runs (the
// Heroku-style front-end, which needs no lifecycle built for arm64: about 5
// minutes saved on a fresh machine); otherwise both apps through both
// front-ends, built through both strategies.
func guestCases() []guestCase {
	if os.Getenv("NIXBP_ARM64_CASES") == "short" {
		return []guestCase{{"hello-web", "heroku", "userns"}}
	}
	var cs []guestCase
	for _, a := range []string{"hello-web", "static-hello"} {
		for _, fe := range []string{"cnb", "heroku"} {
			for _, st := range []string{"userns", "proot"} {
				cs = append(cs, guestCase{a, fe, st})
			}
		}
	}
	return cs
}

// guestEnv is what TestArm64 shares with the machine, named by the
// environment it runs the guest with.
type guestEnv struct {
	// out is scripts/package.sh's output (buildpack-arm64); heroku is its
	// Heroku-style tarball, unpacked; lifecycle is empty when no case
	// needs it.
	out, tarball, lifecycle, heroku string
}

// TestGuest runs in the emulated arm64 machine that TestArm64 boots (it
// skips elsewhere): the packaged linux/arm64 buildpack builds fixture apps
// through the lifecycle built for arm64 and through the Heroku-style
// front-end, with the arm64 Nix tarball, as an unprivileged uid, with /nix
// shown through user namespaces or through the bundled arm64 proot, and the
// web process answers HTTP through the launcher under both strategies.
func TestGuest(t *testing.T) {
	if os.Getenv("NIXBP_ARM64_GUEST") == "" {
		t.Skip("runs in the emulated arm64 machine that TestArm64 boots")
	}
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		t.Fatal(err)
	}
	if machine := utsString(u.Machine[:]); runtime.GOARCH != "arm64" || machine != "aarch64" {
		t.Fatalf("GOARCH %s on a %s machine, want arm64 on aarch64", runtime.GOARCH, machine)
	}
	en := guestEnv{out: os.Getenv("NIXBP_ARM64_OUT"), tarball: os.Getenv("NIXBP_ARM64_TARBALL"),
		lifecycle: os.Getenv("NIXBP_ARM64_LIFECYCLE"), heroku: os.Getenv("NIXBP_ARM64_HEROKU")}
	for _, c := range guestCases() {
		t.Run(c.name(), func(t *testing.T) {
			a := apps[c.app]
			var launch func(t *testing.T, strategy string)
			switch c.frontEnd {
			case "cnb":
				launch = buildCNB(t, en, a, c.strategy)
			case "heroku":
				launch = buildHeroku(t, en, a, c.strategy)
			}
			for _, st := range []string{"userns", "proot"} {
				launch(t, st)
			}
		})
	}
}

// buildCNB builds the app through the lifecycle's detector and builder and
// returns a function that serves it through the lifecycle's launcher.
func buildCNB(t *testing.T, en guestEnv, a app, strategy string) func(*testing.T, string) {
	w, err := e2e.NewWorkspace(openDir(t), en.lifecycle, e2e.Options{
		AppSource: filepath.Join(testenv.RepoRoot(), "fixtures", "apps", a.name),
		Buildpack: filepath.Join(en.out, "buildpack-arm64"), NixTarball: en.tarball, Busybox: "/bin/busybox",
		Nixpkgs: a.channel, Env: map[string]string{"BP_NIX_STRATEGY": strategy, "BP_NIX_RELOCATE": "never"},
		UID: uid, GID: gid})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := w.Detect(); err != nil {
		t.Fatalf("detect: %v\n%s", err, out)
	}
	start := time.Now()
	out, err := w.Build()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	t.Logf("arm64: %s through the lifecycle, /nix through %s: build took %s", a.name, strategy, time.Since(start).Round(time.Second))
	checkBuildLog(t, out, strategy)
	return func(t *testing.T, runStrategy string) {
		port := freePort(t)
		var log strings.Builder
		cmd, err := w.Launch("web", map[string]string{"PORT": port, "BIND_ADDRESS": "127.0.0.1", "NIXBP_STRATEGY": runStrategy}, &log)
		if err != nil {
			t.Fatal(err)
		}
		took := checkGets(t, a, port, &log)
		_, stopErr := e2e.Stop(cmd)
		checkLaunchLog(t, log.String(), runStrategy)
		if stopErr != nil {
			t.Errorf("stopping web: %v\n%s", stopErr, log.String())
		}
		t.Logf("arm64: %s (lifecycle, built through %s) answered HTTP through the launcher under %s, %s after start",
			a.name, strategy, runStrategy, took.Round(time.Millisecond))
	}
}

// buildHeroku compiles the app as herokuish does (bin/detect, bin/compile,
// bin/release, the slug moved) and returns a function that starts its web
// process as a dyno does and checks its answers.
func buildHeroku(t *testing.T, en guestEnv, a app, strategy string) func(*testing.T, string) {
	h, err := e2e.NewHerokuApp(openDir(t), filepath.Join(openDir(t), "cache"), e2e.HerokuOptions{
		AppSource: filepath.Join(testenv.RepoRoot(), "fixtures", "apps", a.name), Buildpack: en.heroku,
		Busybox: "/bin/busybox", Nixpkgs: a.channel,
		EnvDir: map[string]string{"BP_NIX_STRATEGY": strategy, "BP_NIX_RELOCATE": "never", "NIXBP_NIX_TARBALL": en.tarball},
		UID:    uid, GID: gid})
	if err != nil {
		t.Fatal(err)
	}
	if out, stderr, code, err := h.Detect(); err != nil || code != 0 {
		t.Fatalf("bin/detect = %q, %d, %v\n%s", out, code, err, stderr)
	}
	start := time.Now()
	out, err := h.Compile(nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("arm64: %s through bin/compile, /nix through %s: compile took %s", a.name, strategy, time.Since(start).Round(time.Second))
	checkBuildLog(t, out, strategy)
	release, err := h.Release()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Slug(); err != nil {
		t.Fatal(err)
	}
	command, err := h.ProcessCommand(release, "web")
	if err != nil {
		t.Fatal(err)
	}
	return func(t *testing.T, runStrategy string) {
		port := freePort(t)
		var log strings.Builder
		cmd, err := h.Start(command, map[string]string{"PORT": port, "BIND_ADDRESS": "127.0.0.1", "NIXBP_STRATEGY": runStrategy}, &log)
		if err != nil {
			t.Fatal(err)
		}
		took := checkGets(t, a, port, &log)
		_, stopErr := e2e.StopDyno(cmd)
		checkLaunchLog(t, log.String(), runStrategy)
		if stopErr != nil {
			t.Errorf("stopping web: %v\n%s", stopErr, log.String())
		}
		t.Logf("arm64: %s (Heroku-style, built through %s) answered HTTP from the slug under %s, %s after start",
			a.name, strategy, runStrategy, took.Round(time.Millisecond))
	}
}

// checkBuildLog checks that the build showed /nix through strategy: proot
// the bundled arm64 one (the machine has none installed); and that it says
// whether Nix's sandbox was on (docs/sealed-builds.md): off under proot.
// Through user namespaces it is off here too, with Nix's reason: the
// machine's root has no /nix, so the view is a new root, and its root is an
// initramfs, where pivot_root is refused: the new root is entered by
// chroot, and the kernel refuses a user namespace (Nix's sandbox) to a
// chrooted process; the line is logged, not required to say on
// (docs/arm64.md).
func checkBuildLog(t *testing.T, out, strategy string) {
	t.Helper()
	want := "/nix through " + strategy
	if !strings.Contains(out, want) || (strategy == "proot" && !strings.Contains(out, "(bundled)")) {
		t.Fatalf("the build log lacks %q (bundled, for proot):\n%s", want, out)
	}
	sandbox := "Nix's sandbox: "
	if strategy == "proot" {
		sandbox = "Nix's sandbox: off (/nix is shown through proot"
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "Nix's sandbox: ") {
			t.Logf("arm64: build through %s: %s", strategy, strings.TrimSpace(line))
		}
	}
	if !strings.Contains(out, sandbox) {
		t.Errorf("the build log lacks %q:\n%s", sandbox, out)
	}
}

// checkLaunchLog checks that the launcher ran the web process through
// strategy.
func checkLaunchLog(t *testing.T, log, strategy string) {
	t.Helper()
	want := "nixbp-launch: /nix through " + strategy
	if !strings.Contains(log, want) || (strategy == "proot" && !strings.Contains(log, "(bundled)")) {
		t.Errorf("the process log lacks %q (bundled, for proot):\n%s", want, log)
	}
}

// checkGets fetches every path of the app until the first answers, within
// a bound generous for an emulated machine, and returns how long the first
// answer took.
func checkGets(t *testing.T, a app, port string, log *strings.Builder) time.Duration {
	t.Helper()
	start := time.Now()
	var took time.Duration
	for path, want := range a.gets {
		status, body, err := e2e.Get("http://127.0.0.1:"+port+path, 2*time.Minute)
		if took == 0 {
			took = time.Since(start)
		}
		if err != nil || status != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s = %d %q, %v; want 200 with %q\nprocess log:\n%s", path, status, body, err, want, log.String())
		}
	}
	return took
}

func freePort(t *testing.T) string {
	t.Helper()
	p, err := e2e.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(p)
}

// openDir is a temporary directory the unprivileged build user can enter.
func openDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	for _, p := range []string{filepath.Dir(d), d} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func utsString(b []int8) string {
	s := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}
