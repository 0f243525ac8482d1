package e2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestDyno deploys as on Heroku, where the platform offers no /nix, no
// user namespaces and no ptrace: CI compiles with Nix and pushes to a
// file:// cache; then, inside e2e.Dyno's confinement, compile restores
// from that cache without Nix (NIX_BUILD_ON_PUSH=0) and relocates the
// closure into the slug, and the web process of the Procfile, started at
// /app with .profile.d sourced, answers HTTP.
func TestDyno(t *testing.T) {
	en := setupHeroku(t)
	dyno := dynoHarness(t)

	t.Run("Confinement", func(t *testing.T) { dynoConfinement(t, dyno) })
	t.Run("PointerMiss", func(t *testing.T) { dynoPointerMiss(t, en, dyno) })
	t.Run("HelloWeb", func(t *testing.T) {
		dynoDeploy(t, en, dyno, filepath.Join(testenv.RepoRoot(), "fixtures", "apps", "hello-web"), "Hello from hello-web, built by Nix\n", false)
	})
	t.Run("TmpLink", func(t *testing.T) {
		dynoDeploy(t, en, dyno, filepath.Join(testenv.RepoRoot(), "fixtures", "apps", "hello-web"), "Hello from hello-web, built by Nix\n", true)
	})
	t.Run("GzipPath", func(t *testing.T) { relocateCheckFails(t, en) })
	// Under auto, the check's findings would keep the store; on a dyno,
	// where no strategy can show it, the closure is relocated anyway, with
	// a warning naming the file, and the app (which never reads that file)
	// runs.
	t.Run("GzipPathOnDyno", func(t *testing.T) {
		dynoDeploy(t, en, dyno, filepath.Join(testenv.RepoRoot(), "fixtures", "apps", "gzip-path"), "Hello from gzip-path\n", false)
	})
	t.Run("OldProcfile", func(t *testing.T) {
		src := openTempDir(t)
		if err := e2e.DynamicELFApp(filepath.Join(testenv.RepoRoot(), "fixtures", "apps", "dyn-web"), src); err != nil {
			t.Fatal(err)
		}
		// bin/env is taken inside the (relocated) result by run_result.sh.
		procfile := "web: run_result.sh bin/env busybox httpd -f -p \"$BIND_ADDRESS:$PORT\" -h \"$(readlink \"$NIXBP_NIX_DIR/result\")/www\"\n"
		if err := os.WriteFile(filepath.Join(src, "Procfile"), []byte(procfile), 0o644); err != nil {
			t.Fatal(err)
		}
		dynoDeploy(t, en, dyno, src, "Hello from a dynamic ELF program, libraries in /app/.nixs/", false)
	})
	t.Run("DynamicELF", func(t *testing.T) {
		src := openTempDir(t)
		if err := e2e.DynamicELFApp(filepath.Join(testenv.RepoRoot(), "fixtures", "apps", "dyn-web"), src); err != nil {
			t.Fatal(err)
		}
		dynoDeploy(t, en, dyno, src, "Hello from a dynamic ELF program, libraries in /app/.nixs/", false)
	})
}

// dynoConfinement shows that the harness cannot pass by accident: inside
// it, /nix is empty and read-only, and user namespaces and proot fail.
func dynoConfinement(t *testing.T, dyno e2e.Dyno) {
	for _, c := range []struct {
		name, script, want string
	}{
		{"uid", "id -u", "2000\n"},
		{"/nix is empty", "ls -A /nix; echo end", "end\n"},
		{"/nix is read-only", "touch /nix/x 2>&1 || echo refused", "refused"},
		{"unshare -Ur", "unshare -Ur true 2>&1; echo status=$?", "unshare failed: Operation not permitted\nstatus=1"},
		{"proot", "proot -b /tmp:/nix /bin/true 2>&1; echo status=$?", "ptrace(TRACEME): Operation not permitted"},
	} {
		out, _ := dyno.Command([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, "/bin/sh", "-c", c.script).CombinedOutput()
		if !strings.Contains(string(out), c.want) || (c.name == "proot" && strings.Contains(string(out), "status=0")) {
			t.Errorf("%s: %q, want %q", c.name, out, c.want)
		}
	}
}

// dynoDeploy deploys src through CI and a dyno. With tmpLink, the dyno
// is like Cloud Foundry's: the app runs where it was compiled, a path too
// long for <app>/.nixs, so compile relocates for a /tmp link
// (BP_NIX_RELOCATE=always) that the launcher makes at start.
func dynoDeploy(t *testing.T, en herokuEnv, dyno e2e.Dyno, src, want string, tmpLink bool) {
	binCache := filepath.Join(openTempDir(t), "bincache")
	if err := os.MkdirAll(binCache, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := execCommand("chown", itoa(uid)+":"+itoa(gid), binCache); err != nil {
		t.Fatal(out)
	}
	config := map[string]string{"NIXBP_NIX_TARBALL": en.tarball, "BP_NIX_CACHE": "file://" + binCache}
	opts := e2e.HerokuOptions{AppSource: src, Buildpack: en.buildpack, Busybox: en.busybox, EnvDir: config, UID: uid, GID: gid}

	// CI: a machine where Nix runs.
	ci, err := e2e.NewHerokuApp(openTempDir(t), filepath.Join(openTempDir(t), "cache"), opts)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ci.Compile(nil)
	if err != nil || !strings.Contains(out, "Pushed ") {
		t.Fatalf("CI compile did not push: %v\n%s", err, out)
	}

	// The dyno: restore-only, confined.
	deployConfig := copyMap(config)
	deployConfig["NIX_BUILD_ON_PUSH"] = "0"
	home, prefix := e2e.AppDir, "/app/.nixs"
	if tmpLink {
		deployConfig["BP_NIX_RELOCATE"] = "always"
		home, prefix = "/home/vcap", "/tmp/"
	}
	opts.EnvDir = deployConfig
	d, err := e2e.NewHerokuApp(openTempDir(t), filepath.Join(openTempDir(t), "cache"), opts)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + home, "TMPDIR=/tmp", "STACK=heroku-24"}
	start := time.Now()
	outBytes, err := dyno.Command(env, filepath.Join(en.buildpack, "bin", "compile"), d.Build, d.Cache, d.EnvDir).CombinedOutput()
	out = string(outBytes)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("dyno compile: %v\n%s", err, out)
	}
	t.Logf("dyno compile (restore-only, relocated): %s", elapsed.Round(time.Millisecond))
	wants := []string{"Nix neither installed nor run", "Relocating the runtime closure to " + prefix, "0 problems"}
	if filepath.Base(src) == "gzip-path" {
		wants = append(wants[:2], "warning: relocated although these files break, because the store could not be shown at /nix on this platform either",
			"-gzip-path/share/paths.gz: the store directory /nix/store")
	}
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("dyno compile log lacks %q:\n%s", w, out)
		}
	}
	logLines(t, "dyno compile", out, "Restored", "Relocat", "Copied", "Checked", "Compiled")
	if _, err := os.Stat(filepath.Join(d.Build, ".nix", "store")); err == nil {
		t.Errorf("the relocated slug still holds .nix/store (two copies)")
	}

	release, err := d.Release()
	if err != nil {
		t.Fatal(err)
	}
	d.Run = d.Build
	command, err := d.ProcessCommand(release, "web")
	if err != nil {
		t.Fatal(err)
	}
	port, err := e2e.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	run, appDir := dyno, e2e.AppDir
	if tmpLink {
		appDir = d.Build
		link := tmpLinkOf(t, d.Build)
		t.Cleanup(func() { os.Remove(link) })
		failClosed(t, dyno, env, d.Build, command, link)
	} else {
		run.Slug = d.Build
	}
	var log strings.Builder
	cmd := run.Command(append(env, "PORT="+itoa(port), "BIND_ADDRESS=127.0.0.1"),
		"bash", "-c", `cd "$0" && for f in .profile.d/*.sh; do . "$f"; done; exec `+command, appDir)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	status, body, err := e2e.Get("http://127.0.0.1:"+itoa(port)+"/", 10*time.Second)
	_, stopErr := e2e.StopDyno(cmd)
	if err != nil || status != 200 || !strings.HasPrefix(body, want) {
		t.Fatalf("GET / = %d %q, %v; want 200 %q\ncommand: %s\nprocess log:\n%s", status, body, err, want, command, log.String())
	}
	if stopErr != nil {
		t.Errorf("stopping: %v\n%s", stopErr, log.String())
	}
	if !strings.Contains(log.String(), "no /nix needed: the closure is relocated to "+prefix) {
		t.Errorf("the launcher did not log the relocate strategy:\n%s", log.String())
	}
	t.Logf("web answered %q", body)
}

// dynoPointerMiss: with a cache that holds no build of this source, the
// dyno cannot run Nix, and compile says what to run where Nix runs.
func dynoPointerMiss(t *testing.T, en herokuEnv, dyno e2e.Dyno) {
	binCache := filepath.Join(openTempDir(t), "bincache")
	if err := os.MkdirAll(binCache, 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := e2e.NewHerokuApp(openTempDir(t), filepath.Join(openTempDir(t), "cache"), e2e.HerokuOptions{
		AppSource: filepath.Join(testenv.RepoRoot(), "fixtures", "apps", "hello-web"), Buildpack: en.buildpack, Busybox: en.busybox,
		EnvDir: map[string]string{"NIXBP_NIX_TARBALL": en.tarball, "BP_NIX_CACHE": "file://" + binCache}, UID: uid, GID: gid})
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + e2e.AppDir, "TMPDIR=/tmp"}
	out, err := dyno.Command(env, filepath.Join(en.buildpack, "bin", "compile"), d.Build, d.Cache, d.EnvDir).CombinedOutput()
	if err == nil {
		t.Fatalf("compile passed in a dyno with an empty cache:\n%s", out)
	}
	for _, w := range []string{"Nix cannot run here, and the caches hold no build of this source",
		"bin/compile BUILD_DIR CACHE_DIR ENV_DIR", "nixbp cache push --cache <url> --app ."} {
		if !strings.Contains(string(out), w) {
			t.Errorf("compile output lacks %q:\n%s", w, out)
		}
	}
}

// relocateCheckFails: a closure with a store path inside gzip data fails a
// forced relocation naming the file, and under auto keeps the store copy
// with a warning (and still runs, at /nix through user namespaces).
func relocateCheckFails(t *testing.T, en herokuEnv) {
	cache := filepath.Join(openTempDir(t), "cache")
	forced := newApp(t, en, "gzip-path", cache, map[string]string{"BP_NIX_RELOCATE": "always", "BP_NIX_RELOCATE_APP_DIR": "/app"}, uid, gid)
	out, err := forced.Compile(nil)
	if err == nil {
		t.Fatalf("a forced relocation of a closure with a store path in gzip data passed:\n%s", out)
	}
	for _, w := range []string{"BP_NIX_RELOCATE=always, but relocating the closure to /app/.nixs breaks these files:",
		"-gzip-path/share/paths.gz: the store directory /nix/store (without a trailing slash, or not rewritten) inside gzip-compressed data",
		"set BP_NIX_RELOCATE_CHECK=warn to relocate anyway"} {
		if !strings.Contains(out, w) {
			t.Errorf("forced compile output lacks %q:\n%s", w, out)
		}
	}
	auto := newApp(t, en, "gzip-path", cache, map[string]string{"BP_NIX_RELOCATE_APP_DIR": "/app"}, uid, gid)
	out, err = auto.Compile(nil)
	if err != nil {
		t.Fatalf("auto compile: %v\n%s", err, out)
	}
	if !strings.Contains(out, "warning: not relocating the closure") || !strings.Contains(out, "share/paths.gz") {
		t.Errorf("auto compile did not warn naming the file:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(auto.Build, ".nixs")); err == nil {
		t.Errorf("auto left a relocated copy beside the store")
	}
	serveSlug(t, auto, "web", nil, "Hello from gzip-path\n")
}

// tmpLinkOf reads the /tmp link a slug relocated for one names.
func tmpLinkOf(t *testing.T, slug string) string {
	data, err := os.ReadFile(filepath.Join(slug, ".nix", "relocated"))
	if err != nil {
		t.Fatal(err)
	}
	link, rest, _ := strings.Cut(string(data), "\n")
	if !strings.HasPrefix(link, "/tmp/") || len(link) != len("/nix/store") || !strings.HasPrefix(rest, "link ../.nixs") {
		t.Fatalf(".nix/relocated = %q, want a /tmp/<5 characters> link to ../.nixs", data)
	}
	return link
}

// failClosed puts another user's link where the slug's /tmp link goes:
// the web process must refuse to start, naming it; then removes it.
func failClosed(t *testing.T, dyno e2e.Dyno, env []string, slug, command, link string) {
	os.Remove(link)
	if err := os.Symlink("/", link); err != nil { // as root: another user's link
		t.Fatal(err)
	}
	out, err := dyno.Command(append(env, "PORT=1"), "bash", "-c",
		`cd "$0" && for f in .profile.d/*.sh; do . "$f"; done; exec `+command, slug).CombinedOutput()
	if err == nil || !strings.Contains(string(out), link+" exists and belongs to another user (uid 0)") {
		t.Errorf("with root's %s in place, web: %v\n%s", link, err, out)
	}
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
}
