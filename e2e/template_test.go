package e2e_test

import (
	"crypto/sha256"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nix-community/go-nix/pkg/nar"
	"github.com/nix-community/go-nix/pkg/nixbase32"

	"github.com/nix-buildpack/nix-buildpack/e2e"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// templateApp is a Hop3 template app (hop3.toml [nix] template, no
// hop3.nix) built against the test channel.
type templateApp struct {
	app, template string
	// release is what the prebuilt templates fetch, made at test time:
	// "binary" (busybox, NAR-hashed) or "archive" (a tar.gz holding busybox
	// and a page, flat-hashed).
	release string
	gets    map[string][]string
	// heroku also runs it through the Heroku-style front-end.
	heroku bool
}

var templateApps = []templateApp{
	{app: "template-wrapper", template: "nixpkgs-wrapper", heroku: true, gets: map[string][]string{"/": {
		"Hello from template-wrapper", "GREETING=exported by the wrapper", "MODE=from runtime.json",
		"FALLBACK=set because FALLBACK was empty", "-busybox/bin/httpd"}}},
	{app: "template-binary", template: "prebuilt-binary", release: "binary",
		gets: map[string][]string{"/": {"Hello from template-binary, version 1.0"}}},
	{app: "template-archive", template: "prebuilt-archive", release: "archive", heroku: true,
		gets: map[string][]string{"/": {"Hello from template-archive, a page of its release tarball"}}},
}

// TestTemplateApps builds Hop3 template apps (ADR 008): the buildpack
// generates the expression from [nix] and builds it with <nixpkgs> the test
// channel (BP_NIX_NIXPKGS in place of the template's pinned tarball) and
// substituters off. CNB: through the lifecycle, the web process answering
// through the launcher; Heroku: compiled with bin/compile, served from the
// slug moved to its run directory. One packaging serves both.
func TestTemplateApps(t *testing.T) {
	hen := setupHeroku(t)
	lc := filepath.Join(testenv.ToolsDir(), "lifecycle-0.21.14")
	if _, err := os.Stat(filepath.Join(lc, "lifecycle")); err != nil {
		testenv.Missing(t, "lifecycle 0.21.14 (scripts/tools.sh lifecycle)")
	}
	en := env{lifecycle: lc, buildpack: hen.cnb, tarball: hen.tarball, busybox: hen.busybox}
	t.Run("CNB", func(t *testing.T) {
		for _, c := range templateApps {
			t.Run(c.app, func(t *testing.T) { templateCNB(t, en, c) })
		}
	})
	t.Run("Heroku", func(t *testing.T) {
		for _, c := range templateApps {
			if c.heroku {
				t.Run(c.app, func(t *testing.T) { templateHeroku(t, hen, c) })
			}
		}
	})
}

func templateCNB(t *testing.T, en env, c templateApp) {
	w, err := e2e.NewWorkspace(openTempDir(t), en.lifecycle, e2e.Options{
		AppSource: withRelease(t, c, en.busybox), Buildpack: en.buildpack,
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
	checkLog(t, out, templateLogs(c))
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
}

func templateHeroku(t *testing.T, en herokuEnv, c templateApp) {
	a, err := e2e.NewHerokuApp(openTempDir(t), filepath.Join(openTempDir(t), "cache"), e2e.HerokuOptions{
		AppSource: withRelease(t, c, en.busybox), Buildpack: en.buildpack, Busybox: en.busybox,
		EnvDir: map[string]string{"NIXBP_NIX_TARBALL": en.tarball}, Nixpkgs: true, UID: uid, GID: gid})
	if err != nil {
		t.Fatal(err)
	}
	out, err := a.Compile(nil)
	if err != nil {
		t.Fatalf("compile: %v\n%s", err, out)
	}
	checkLog(t, out, templateLogs(c))
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
}

// templateLogs are what the build log of a template app must say.
func templateLogs(c templateApp) []string {
	return []string{`Generated .hop3-template.nix from hop3.toml [nix] template = "` + c.template + `"`,
		"nixpkgs: <nixpkgs> from BP_NIX_NIXPKGS=", "in place of the template's pin 50ab7937",
		"Reproducibility: Hop3's tier ", "`nixbp nix eject` writes it as hop3.nix"}
}

// withRelease copies the fixture app and, for a prebuilt template, makes
// the release it fetches and serves it on loopback, putting its http://
// URL and real hash in place of @RELEASE_URL@ and @RELEASE_SHA256@ in
// hop3.toml. (A file:// URL would not do: Nix's sandbox, on where user
// namespaces are, shows a fixed-output derivation the network but no file
// of the builder's.)
func withRelease(t *testing.T, c templateApp, busybox string) string {
	t.Helper()
	app := filepath.Join(openTempDir(t), c.app)
	if out, err := exec.Command("cp", "-a", filepath.Join(testenv.RepoRoot(), "fixtures", "apps", c.app), app).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	if c.release == "" {
		return app
	}
	dir := openTempDir(t)
	var file, hash string
	switch c.release {
	case "binary":
		file = filepath.Join(dir, "busybox")
		copyFile(t, busybox, file, 0o755)
		hash = narHash(t, file)
	case "archive":
		top := filepath.Join(dir, c.app+"-1.0")
		copyFile(t, busybox, filepath.Join(top, "bin", "busybox"), 0o755)
		writeFile(t, filepath.Join(top, "www", "index.html"), "Hello from template-archive, a page of its release tarball\n")
		file = top + ".tar.gz"
		if out, err := exec.Command("tar", "-czf", file, "-C", dir, filepath.Base(top)).CombinedOutput(); err != nil {
			t.Fatalf("tar: %v\n%s", err, out)
		}
		if err := os.Chmod(file, 0o644); err != nil {
			t.Fatal(err)
		}
		hash = flatHash(t, file)
	default:
		t.Fatalf("unknown release kind %q", c.release)
	}
	toml := filepath.Join(app, "hop3.toml")
	data, err := os.ReadFile(toml)
	if err != nil {
		t.Fatal(err)
	}
	url := serveDir(t, dir) + "/" + filepath.Base(file)
	text := strings.NewReplacer("@RELEASE_URL@", url, "@RELEASE_SHA256@", hash).Replace(string(data))
	writeFile(t, toml, text)
	t.Logf("release %s at %s, sha256 %s", file, url, hash)
	return app
}

// serveDir serves dir over HTTP on loopback until the test ends and
// returns its base URL.
func serveDir(t *testing.T, dir string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir)), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// narHash is what nixpkgs' fetchurl checks with executable = true (the
// hash of the file's NAR, as `nix-hash --type sha256 --base32 FILE`).
func narHash(t *testing.T, path string) string {
	t.Helper()
	h := sha256.New()
	if err := nar.DumpPath(h, path); err != nil {
		t.Fatal(err)
	}
	return nixbase32.EncodeToString(h.Sum(nil))
}

// flatHash is the file's sha256 in Nix's base 32 (nix-hash --flat).
func flatHash(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return nixbase32.EncodeToString(sum[:])
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dst, mode); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
