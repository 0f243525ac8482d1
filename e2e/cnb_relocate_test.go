package e2e_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestCNBRelocated builds through the lifecycle with BP_NIX_RELOCATE=always
// and runs the image's web process with the lifecycle's launcher as a stock
// run image under a default seccomp profile would: in e2e.Dyno's
// confinement (no /nix, user namespaces and ptrace refused, uid 2000) with
// a /tmp of its own, as a container has. The store layers hold the closure
// rewritten for /tmp/.nixs, which nixbp-launch links to the view layer at
// start. The Hop3 docs' static site and a dynamic ELF program with its
// loader and libraries in another store path answer HTTP 200; so does the
// static site with the view bound at /nix, as on a native run image (the
// launcher must not take native for relocated bytes).
func TestCNBRelocated(t *testing.T) {
	en := setup(t)
	dyno := dynoHarness(t)
	dyno.PrivateTmp = true
	t.Run("StaticHello", func(t *testing.T) {
		w := relocatedWorkspace(t, en, filepath.Join(testenv.RepoRoot(), "fixtures", "apps", "static-hello"), true)
		buildRelocated(t, w)
		serveConfined(t, w, dyno, "Hello World!")
		out, err := w.Build()
		if err != nil {
			t.Fatalf("second build: %v\n%s", err, out)
		}
		if !strings.Contains(out, "Reusing the runtime closure: all ") {
			t.Errorf("the unchanged rebuild did not reuse the relocated store layers:\n%s", out)
		}
		logLines(t, "rebuild", out, "Relocat", "Copied", "Checked", "Reusing the runtime")
		// /tmp/.nixs is a fixed name: root's link there is refused, never
		// followed.
		taken := dyno
		taken.AsRoot = "ln -s / /tmp/.nixs"
		refused(t, w, taken, "/tmp/.nixs exists and belongs to another user (uid 0)")
		// On a native run image /nix shows the view, relocated bytes and
		// all: the launcher must still take relocate.
		native := dyno
		native.Nix = filepath.Join(w.Layers, "nix-buildpack_nix", "view", "nix")
		serveConfined(t, w, native, "Hello World!")
	})
	t.Run("DynamicELF", func(t *testing.T) {
		src := openTempDir(t)
		if err := e2e.DynamicELFApp(filepath.Join(testenv.RepoRoot(), "fixtures", "apps", "dyn-web"), src); err != nil {
			t.Fatal(err)
		}
		w := relocatedWorkspace(t, en, src, false)
		buildRelocated(t, w)
		serveConfined(t, w, dyno, "Hello from a dynamic ELF program, libraries in /tmp/.nixs/")
	})
	t.Run("AutoOnAStockBuilder", func(t *testing.T) { relocatedByAuto(t, en, dyno) })
	t.Run("GzipPath", func(t *testing.T) {
		w := relocatedWorkspace(t, en, filepath.Join(testenv.RepoRoot(), "fixtures", "apps", "gzip-path"), false)
		out, err := w.Build()
		if err == nil {
			t.Fatalf("a forced relocation of a closure with a store path in gzip data passed:\n%s", out)
		}
		for _, want := range []string{"BP_NIX_RELOCATE=always, but relocating the closure to /tmp/.nixs breaks these files:",
			"-gzip-path/share/paths.gz: the store directory /nix/store (without a trailing slash, or not rewritten) inside gzip-compressed data",
			"set BP_NIX_RELOCATE_CHECK=warn to relocate anyway"} {
			if !strings.Contains(out, want) {
				t.Errorf("build output lacks %q:\n%s", want, out)
			}
		}
	})
}

// relocatedByAuto: CI builds dyn-web where Nix runs and pushes it to a
// file:// cache; then the lifecycle's builder itself runs confined, as on
// a stock builder under a default seccomp profile (no /nix, user
// namespaces and ptrace refused), with BP_NIX_RELOCATE unset (auto): it
// restores the closure by the source pointer without Nix, sees that this
// builder shows /nix neither natively nor through a user namespace, and
// relocates; the image answers from the same confinement.
func relocatedByAuto(t *testing.T, en env, dyno e2e.Dyno) {
	src := openTempDir(t)
	if err := e2e.DynamicELFApp(filepath.Join(testenv.RepoRoot(), "fixtures", "apps", "dyn-web"), src); err != nil {
		t.Fatal(err)
	}
	// The cache is inside the confined build's workspace, which stays
	// visible in its private /tmp.
	root := openTempDir(t)
	binCache := filepath.Join(root, "bincache")
	if err := os.MkdirAll(binCache, 0o755); err != nil {
		t.Fatal(err)
	}
	cacheEnv := map[string]string{"BP_NIX_CACHE": "file://" + binCache}
	stock, err := e2e.NewWorkspace(root, en.lifecycle, e2e.Options{AppSource: src, Buildpack: en.buildpack,
		NixTarball: en.tarball, Busybox: en.busybox, Env: cacheEnv, UID: uid, GID: gid})
	if err != nil {
		t.Fatal(err)
	}
	ci, err := e2e.NewWorkspace(openTempDir(t), en.lifecycle, e2e.Options{AppSource: src, Buildpack: en.buildpack,
		NixTarball: en.tarball, Busybox: en.busybox, Env: cacheEnv, UID: uid, GID: gid})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := ci.Detect(); err != nil {
		t.Fatalf("CI detect: %v\n%s", err, out)
	}
	out, err := ci.Build()
	if err != nil || !strings.Contains(out, "Pushed ") || strings.Contains(out, "Relocating") {
		t.Fatalf("CI build (auto, user namespaces allowed: not relocated) did not push, or relocated: %v\n%s", err, out)
	}
	if out, err := stock.Detect(); err != nil {
		t.Fatalf("detect: %v\n%s", err, out)
	}
	argv, benv := stock.BuildCommand()
	confined := dyno
	confined.Keep = stock.Root
	start := time.Now()
	outBytes, err := confined.Command(benv, argv...).CombinedOutput()
	out = string(outBytes)
	if err != nil {
		t.Fatalf("confined build: %v\n%s", err, out)
	}
	t.Logf("confined build (restore-only, relocated by auto): %s", time.Since(start).Round(time.Millisecond))
	logLines(t, "confined build", out, "Restored", "auto", "Relocat", "Copied", "Checked", "Store layers")
	for _, want := range []string{"Nix neither installed nor run", "BP_NIX_RELOCATE=auto: relocating the closure to /tmp/.nixs",
		"userns: unprivileged user namespaces are refused", "0 problems"} {
		if !strings.Contains(out, want) {
			t.Errorf("confined build log lacks %q:\n%s", want, out)
		}
	}
	serveConfined(t, stock, dyno, "Hello from a dynamic ELF program, libraries in /tmp/.nixs/")
}

// dynoHarness is e2e.Dyno with its tools checked and mount points made.
func dynoHarness(t *testing.T) e2e.Dyno {
	t.Helper()
	for _, tool := range []string{"unshare", "patchelf", "nix-store", "ldd"} {
		testenv.Require(t, tool)
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import seccomp").Run(); err != nil {
		testenv.Missing(t, "/usr/bin/python3 cannot import seccomp (apt-get install python3-seccomp)")
	}
	if err := e2e.PrepareDyno(); err != nil {
		t.Fatal(err)
	}
	return e2e.Dyno{Seccomp: filepath.Join(testenv.RepoRoot(), "e2e", "dyno", "seccomp-exec.py"), UID: uid, GID: gid}
}

// relocatedWorkspace lays out src for a build with BP_NIX_RELOCATE=always
// and runs the detector.
func relocatedWorkspace(t *testing.T, en env, src string, nixpkgs bool) *e2e.Workspace {
	t.Helper()
	w, err := e2e.NewWorkspace(openTempDir(t), en.lifecycle, e2e.Options{AppSource: src, Buildpack: en.buildpack,
		NixTarball: en.tarball, Busybox: en.busybox, Nixpkgs: nixpkgs, Env: e2e.Offline(map[string]string{"BP_NIX_RELOCATE": "always"}),
		UID: uid, GID: gid})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := w.Detect(); err != nil {
		t.Fatalf("detect: %v\n%s", err, out)
	}
	return w
}

// buildRelocated builds and checks that the store layers were relocated,
// with no /nix/store/ left in them.
func buildRelocated(t *testing.T, w *e2e.Workspace) {
	t.Helper()
	start := time.Now()
	out, err := w.Build()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	t.Logf("relocated build: %s", time.Since(start).Round(time.Millisecond))
	logLines(t, "build", out, "Relocat", "Copied", "Checked", "Store layers", "relocated")
	for _, want := range []string{"Relocating the runtime closure to /tmp/.nixs", "0 problems", "Process web (relocated): "} {
		if !strings.Contains(out, want) {
			t.Errorf("build log lacks %q:\n%s", want, out)
		}
	}
	// Every store layer: store-* and those named after the directory store
	// path they hold; not nix (Nix and the build's store), view, launcher.
	all, _ := filepath.Glob(filepath.Join(w.Layers, "nix-buildpack_nix", "*"))
	var layers []string
	for _, l := range all {
		if fi, err := os.Stat(l); err != nil || !fi.IsDir() {
			continue
		}
		if b := filepath.Base(l); b == "nix" || b == "view" || b == "launcher" {
			continue
		}
		layers = append(layers, l)
	}
	for _, l := range layers {
		if out, err := execCommand("grep", "-rlF", "/nix/store/", l); err == nil {
			t.Errorf("%s still holds /nix/store/ in:\n%s", l, out)
		}
	}
	if len(layers) == 0 {
		t.Errorf("no store layers")
	}
}

// serveConfined starts web with the lifecycle's launcher inside dyno and
// GETs /.
func serveConfined(t *testing.T, w *e2e.Workspace, dyno e2e.Dyno, want string) {
	t.Helper()
	link, err := w.ProcessLink("web")
	if err != nil {
		t.Fatal(err)
	}
	port, err := e2e.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dyno.Keep = w.Root
	var log strings.Builder
	check := `[ -z "$(ls -A /nix)" ] || { echo "/nix is not empty"; exit 1; }`
	if dyno.Nix != "" {
		check = `[ -e /nix/relocated ] || { echo "/nix is not the view"; exit 1; }`
	}
	cmd := dyno.Command(append(w.LaunchEnv(), "PORT="+itoa(port), "BIND_ADDRESS=127.0.0.1"),
		"/bin/sh", "-c", `cd "$0" && `+check+` && exec "$1"`, w.App, link)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	status, body, err := e2e.Get("http://127.0.0.1:"+itoa(port)+"/", 10*time.Second)
	_, stopErr := e2e.StopDyno(cmd)
	if err != nil || status != 200 || !strings.Contains(body, want) {
		t.Fatalf("GET / = %d %q, %v; want 200 with %q\nprocess log:\n%s", status, body, err, want, log.String())
	}
	if stopErr != nil {
		t.Errorf("stopping: %v\n%s", stopErr, log.String())
	}
	if !strings.Contains(log.String(), "no /nix needed: the closure is relocated to /tmp/.nixs") {
		t.Errorf("the launcher did not take the relocate strategy:\n%s", log.String())
	}
	t.Logf("web answered %q", body)
}

// refused starts web with the lifecycle's launcher inside dyno: it must
// fail, saying want.
func refused(t *testing.T, w *e2e.Workspace, dyno e2e.Dyno, want string) {
	t.Helper()
	link, err := w.ProcessLink("web")
	if err != nil {
		t.Fatal(err)
	}
	dyno.Keep = w.Root
	out, err := dyno.Command(append(w.LaunchEnv(), "PORT=1"), "/bin/sh", "-c", `cd "$0" && exec "$1"`, w.App, link).CombinedOutput()
	if err == nil || !strings.Contains(string(out), want) {
		t.Errorf("web: %v, want a failure saying %q:\n%s", err, want, out)
	}
}
