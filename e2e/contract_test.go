package e2e_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e"
)

// contractApp is an app written against Hop3's runtime contract (issue 11
// item 3), self-contained with busybox: hop3.toml in hop3/ where Hop3 reads
// it, with [env] and a typo; a worker named static (a directory, the docs'
// static site); a worker serving a single-quoted path with a space; one
// printing its environment.
var contractApp = map[string]string{
	"hop3/hop3.toml": `[build]
builder = "nix"

[build.nix]
fiel = "other.nix"

[env]
FROM_TOML = "toml"
BOTH = "toml"
TOML_DEFAULT = "toml"
`,
	"hop3.nix": `let
  bb = ./bb;
in {
  package = derivation {
    name = "contract";
    system = "x86_64-linux";
    builder = "${bb}/bin/sh";
    PATH = "${bb}/bin";
    args = [ "-c" ''
      set -e
      mkdir -p $out/public/docs "$out/my www" $out/hop3
      echo "Hello World" > $out/public/index.html
      echo "Nested page" > $out/public/docs/index.html
      echo "body { color: red }" > $out/public/style.css
      echo "Served from a directory with a space" > "$out/my www/index.html"
      cat > $out/hop3/runtime.json <<EOF
      {
        "workers": {
          "static": "$out/public",
          "quoted": "busybox httpd -f -p \"\$BIND_ADDRESS:\$PORT\" -h '$out/my www'",
          "printenv": "busybox echo FROM_TOML=\$FROM_TOML BOTH=\$BOTH CONFIG=\$CONFIG TOML_DEFAULT=\$TOML_DEFAULT"
        },
        "env": {"BOTH": "runtime.json", "CONFIG": "runtime.json"},
        "path": ["${bb}/bin"]
      }
      EOF
    '' ];
  };
}
`,
}

// TestHop3ContractThroughTheLifecycle builds contractApp with the real
// lifecycle and checks what Hop3's contract promises: the static worker is
// web and serves /, a nested page, content types and 404s; the quoted worker
// passes the guard and serves its directory; runtime.json env overrides a
// platform config var, hop3.toml [env] gives way to one and loses to
// runtime.json; the typo is a warning with file and line.
func TestHop3ContractThroughTheLifecycle(t *testing.T) {
	en := setup(t)
	src := writeApp(t, contractApp)
	w, err := e2e.NewWorkspace(openTempDir(t), en.lifecycle, e2e.Options{AppSource: src, Buildpack: en.buildpack,
		NixTarball: en.tarball, Busybox: en.busybox, UID: uid, GID: gid})
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
	for _, want := range []string{`hop3/hop3.toml:5: warning: unknown key "fiel" in [build.nix]`,
		"worker static: the web process serves /nix/store/", "Process web: static site /nix/store/"} {
		if !strings.Contains(out, want) {
			t.Errorf("build log lacks %q:\n%s", want, out)
		}
	}

	t.Run("static site", func(t *testing.T) {
		base, stop := launch(t, w, "web", nil)
		defer stop()
		for _, c := range []struct{ path, body, contentType string }{
			{"/", "Hello World\n", "text/html"},
			{"/docs/", "Nested page\n", "text/html"},
			{"/style.css", "body { color: red }\n", "text/css"},
		} {
			status, body, err := e2e.Get(base+c.path, 10*time.Second)
			if err != nil || status != 200 || body != c.body {
				t.Errorf("GET %s = %d %q, %v; want 200 %q", c.path, status, body, err, c.body)
			}
			resp, err := http.Head(base + c.path)
			if err != nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.contentType) {
				t.Errorf("HEAD %s: Content-Type %v, %v; want %s", c.path, resp, err, c.contentType)
			}
		}
		if status, _, err := e2e.Get(base+"/missing.html", 10*time.Second); err != nil || status != 404 {
			t.Errorf("GET /missing.html = %d, %v; want 404", status, err)
		}
	})
	t.Run("quoted worker", func(t *testing.T) {
		base, stop := launch(t, w, "quoted", nil)
		defer stop()
		status, body, err := e2e.Get(base+"/", 10*time.Second)
		if err != nil || status != 200 || body != "Served from a directory with a space\n" {
			t.Errorf("GET / = %d %q, %v", status, body, err)
		}
	})
	t.Run("env precedence", func(t *testing.T) {
		var log strings.Builder
		cmd, err := w.Launch("printenv", map[string]string{"CONFIG": "platform", "TOML_DEFAULT": "platform"}, &log)
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("printenv: %v\n%s", err, log.String())
		}
		want := "FROM_TOML=toml BOTH=runtime.json CONFIG=runtime.json TOML_DEFAULT=platform"
		if !strings.Contains(log.String(), want) {
			t.Errorf("printenv said\n%s\nwant %s", log.String(), want)
		}
	})
}

// launch starts a process type on a free port and returns its base URL and
// a function stopping it.
func launch(t *testing.T, w *e2e.Workspace, processType string, env map[string]string) (string, func()) {
	t.Helper()
	port, err := e2e.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]string{"PORT": itoa(port), "BIND_ADDRESS": "127.0.0.1"}
	for k, v := range env {
		all[k] = v
	}
	var log strings.Builder
	cmd, err := w.Launch(processType, all, &log)
	if err != nil {
		t.Fatal(err)
	}
	return "http://127.0.0.1:" + itoa(port), func() {
		if _, err := e2e.Stop(cmd); err != nil {
			t.Errorf("stopping %s: %v\n%s", processType, err, log.String())
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", processType, log.String())
		}
	}
}

// TestHerokuHop3Contract is TestHop3ContractThroughTheLifecycle for the
// Heroku-style front-end: compile, release, the slug moved to where it runs,
// each process started as a dyno starts it (bash sourcing .profile.d).
func TestHerokuHop3Contract(t *testing.T) {
	en := setupHeroku(t)
	src := writeApp(t, contractApp)
	a, err := e2e.NewHerokuApp(openTempDir(t), filepath.Join(openTempDir(t), "cache"), e2e.HerokuOptions{AppSource: src,
		Buildpack: en.buildpack, Busybox: en.busybox, EnvDir: map[string]string{"NIXBP_NIX_TARBALL": en.tarball}, UID: uid, GID: gid})
	if err != nil {
		t.Fatal(err)
	}
	out, err := a.Compile(nil)
	if err != nil {
		t.Fatalf("compile: %v\n%s", err, out)
	}
	if want := `hop3/hop3.toml:5: warning: unknown key "fiel" in [build.nix]`; !strings.Contains(out, want) {
		t.Errorf("compile log lacks %q:\n%s", want, out)
	}
	release, err := a.Release()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Slug(); err != nil {
		t.Fatal(err)
	}
	command := func(processType string) string {
		c, err := a.ProcessCommand(release, processType)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	startAndGet(t, a, command("web"), nil, "Hello World\n")
	startAndGet(t, a, command("quoted"), nil, "Served from a directory with a space\n")

	var log strings.Builder
	cmd, err := a.Start(command("printenv"), map[string]string{"CONFIG": "platform", "TOML_DEFAULT": "platform"}, &log)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("printenv: %v\n%s", err, log.String())
	}
	if want := "FROM_TOML=toml BOTH=runtime.json CONFIG=runtime.json TOML_DEFAULT=platform"; !strings.Contains(log.String(), want) {
		t.Errorf("printenv said\n%s\nwant %s", log.String(), want)
	}
}

// writeApp writes an app's files into a directory the build user can read.
func writeApp(t *testing.T, files map[string]string) string {
	t.Helper()
	src := openTempDir(t)
	for name, body := range files {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return src
}
