package e2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e"
)

// runtimeApp uses what Hop3 does around an app's processes (issue 22 item
// 5), self-contained with busybox: a release task ([run] before-run) that
// fails when FAIL_RELEASE is set and otherwise writes the page web serves,
// using the postgres addon's variables; a cron worker in Hop3's Procfile
// form with a seconds-level schedule; a worker printing the addon's
// variables; [healthcheck]; an [env] secret Hop3 would generate.
var runtimeApp = map[string]string{
	"hop3.toml": `[build]
builder = "nix"

[run]
before-run = [
  "busybox sh -c 'test -z \"$FAIL_RELEASE\" || { echo release refused; exit 4; }'",
  "busybox sh -c 'echo \"migrated $PGDATABASE as $PGUSER\" > \"$RELEASE_DIR/index.html\"'",
]

[[addons]]
type = "postgres"

[healthcheck]
path = "/"
interval = 10
retries = 3

[env]
SECRET_KEY = { generate = "hex", length = 32 }
`,
	"hop3/Procfile": "cron: @every 1s busybox echo tick from cron\n",
	"hop3.nix": `let
  bb = ./bb;
in {
  package = derivation {
    name = "runtime-features";
    system = "x86_64-linux";
    builder = "${bb}/bin/sh";
    PATH = "${bb}/bin";
    args = [ "-c" ''
      set -e
      mkdir -p $out/hop3
      cat > $out/hop3/runtime.json <<EOF
      {
        "workers": {
          "web": "busybox httpd -f -p \"\$BIND_ADDRESS:\$PORT\" -h \"\$RELEASE_DIR\"",
          "printenv": "busybox echo DATABASE_URL=\$DATABASE_URL PGHOST=\$PGHOST PGPORT=\$PGPORT PGUSER=\$PGUSER PGPASSWORD=\$PGPASSWORD PGDATABASE=\$PGDATABASE"
        },
        "path": ["${bb}/bin"]
      }
      EOF
    '' ];
  };
}
`,
}

// postgresBinding writes a service binding of type postgresql, as a
// platform mounts one under $SERVICE_BINDING_ROOT, readable by uid.
func postgresBinding(t *testing.T) string {
	t.Helper()
	root := openTempDir(t)
	dir := filepath.Join(root, "main-db")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"type": "postgresql", "host": "db.example.internal", "port": "6543",
		"username": "shop", "password": "s3cret pass", "database": "shopdb"} {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// releaseDir is a directory the app's uid may write, for the release task.
func releaseDir(t *testing.T) string {
	t.Helper()
	dir := openTempDir(t)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	return dir
}

const wantAddonEnv = "DATABASE_URL=postgresql://shop:s3cret%20pass@db.example.internal:6543/shopdb PGHOST=db.example.internal PGPORT=6543 " +
	"PGUSER=shop PGPASSWORD=s3cret pass PGDATABASE=shopdb"

// TestHop3RuntimeFeaturesThroughTheLifecycle builds runtimeApp with the
// real lifecycle and runs its processes with the lifecycle's launcher: the
// release task runs before web (and its failure stops the start), alone as
// the process type release; the cron worker fires on its schedule; the
// postgres binding becomes DATABASE_URL and PG*; [healthcheck] is a label.
func TestHop3RuntimeFeaturesThroughTheLifecycle(t *testing.T) {
	en := setup(t)
	src := writeApp(t, runtimeApp)
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
	for _, want := range []string{
		"release task (hop3.toml:5 [run] before-run): 2 command(s); nixbp-launch runs it before the web process starts, and a failure stops the start",
		`process cron: nixbp-launch runs "busybox echo tick from cron" on the schedule "@every 1s"`,
		"hop3.toml:10 [[addons]]: addon postgres: the platform provides the service; at launch nixbp-launch sets DATABASE_URL, PGDATABASE",
		"hop3.toml:19: [env] SECRET_KEY = { generate = \"hex\", length = 32 } is filled by Hop3's server, not by a buildpack: set SECRET_KEY on the platform",
		`image label io.github.nix-buildpack.healthcheck={"path":"/","interval":10,"retries":3}`,
		"Process release: release task: busybox sh -c",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("build log lacks %q:\n%s", want, out)
		}
	}
	checkLaunchTOML(t, w.Layers)
	bindings := postgresBinding(t)

	t.Run("release task before web", func(t *testing.T) {
		dir := releaseDir(t)
		base, stop := launch(t, w, "web", map[string]string{"RELEASE_DIR": dir, "SERVICE_BINDING_ROOT": bindings})
		defer stop()
		status, body, err := e2e.Get(base+"/", 60*time.Second)
		if err != nil || status != 200 || body != "migrated shopdb as shop\n" {
			t.Errorf("GET / = %d %q, %v; want the page the release task wrote", status, body, err)
		}
	})
	t.Run("a failing release task stops the start", func(t *testing.T) {
		var log strings.Builder
		cmd, err := w.Launch("web", map[string]string{"RELEASE_DIR": releaseDir(t), "SERVICE_BINDING_ROOT": bindings, "FAIL_RELEASE": "1",
			"PORT": "1", "BIND_ADDRESS": "127.0.0.1"}, &log)
		if err != nil {
			t.Fatal(err)
		}
		err = waitExit(cmd, 2*time.Minute)
		if code := exitCode(err); code != 4 {
			t.Fatalf("web exited %d (%v), want 4 from the release task\n%s", code, err, log.String())
		}
		for _, want := range []string{"release refused", "release task [1/2] failed with status 4", "not starting the app"} {
			if !strings.Contains(log.String(), want) {
				t.Errorf("log lacks %q:\n%s", want, log.String())
			}
		}
	})
	t.Run("the process type release runs it alone", func(t *testing.T) {
		dir := releaseDir(t)
		var log strings.Builder
		cmd, err := w.Launch("release", map[string]string{"RELEASE_DIR": dir, "SERVICE_BINDING_ROOT": bindings}, &log)
		if err != nil {
			t.Fatal(err)
		}
		if err := waitExit(cmd, 2*time.Minute); err != nil {
			t.Fatalf("release: %v\n%s", err, log.String())
		}
		if page, _ := os.ReadFile(filepath.Join(dir, "index.html")); string(page) != "migrated shopdb as shop\n" {
			t.Errorf("the release process wrote %q\n%s", page, log.String())
		}
	})
	t.Run("postgres binding", func(t *testing.T) {
		var log strings.Builder
		cmd, err := w.Launch("printenv", map[string]string{"SERVICE_BINDING_ROOT": bindings}, &log)
		if err != nil {
			t.Fatal(err)
		}
		if err := waitExit(cmd, 2*time.Minute); err != nil {
			t.Fatalf("printenv: %v\n%s", err, log.String())
		}
		if !strings.Contains(log.String(), wantAddonEnv+"\n") {
			t.Errorf("printenv said\n%s\nwant %s", log.String(), wantAddonEnv)
		}
		if strings.Count(log.String(), "s3cret pass") != 1 {
			t.Errorf("the binding's password reached the launcher's log:\n%s", log.String())
		}
	})
	t.Run("cron fires on its schedule", func(t *testing.T) {
		var log syncBuilder
		cmd, err := w.Launch("cron", nil, &log)
		if err != nil {
			t.Fatal(err)
		}
		fired := waitFor(2*time.Minute, func() bool { return ticks(log.String()) >= 2 })
		code, err := e2e.Stop(cmd)
		if !fired {
			t.Fatalf("the cron worker did not fire twice within 2 minutes:\n%s", log.String())
		}
		if err != nil || code != 143 {
			t.Errorf("cron stopped with %d, %v; want 143 (SIGTERM)\n%s", code, err, log.String())
		}
		if strings.Contains(log.String(), "@every: not found") || strings.Contains(log.String(), "not found on PATH") {
			t.Errorf("the schedule ran as a command:\n%s", log.String())
		}
	})
}

// TestHerokuHop3RuntimeFeatures is TestHop3RuntimeFeaturesThroughTheLifecycle
// for the Heroku-style front-end: the release task is the Procfile's release
// process type (Heroku's and Dokku's release phase), which the web process
// leaves to the platform except on Cloud Foundry; cron and the addon run
// from the slug as a dyno starts them.
func TestHerokuHop3RuntimeFeatures(t *testing.T) {
	en := setupHeroku(t)
	src := writeApp(t, runtimeApp)
	a, err := e2e.NewHerokuApp(openTempDir(t), filepath.Join(openTempDir(t), "cache"), e2e.HerokuOptions{AppSource: src,
		Buildpack: en.buildpack, Busybox: en.busybox, EnvDir: map[string]string{"NIXBP_NIX_TARBALL": en.tarball}, UID: uid, GID: gid})
	if err != nil {
		t.Fatal(err)
	}
	out, err := a.Compile(nil)
	if err != nil {
		t.Fatalf("compile: %v\n%s", err, out)
	}
	for _, want := range []string{"it is the Procfile's release process type, which Heroku and Dokku run in their release phase",
		"Wrote Procfile with process types web, cron, printenv, release", "cf set-health-check APP http --endpoint /"} {
		if !strings.Contains(out, want) {
			t.Errorf("compile log lacks %q:\n%s", want, out)
		}
	}
	release, err := a.Release()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(release, "  release: ") || !strings.Contains(release, "--cron") {
		t.Errorf("release YAML lacks the release and cron processes:\n%s", release)
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
	t.Run("the release phase runs the process type release", func(t *testing.T) {
		dir := releaseDir(t)
		var log strings.Builder
		cmd, err := a.Start(command("release"), map[string]string{"RELEASE_DIR": dir, "DATABASE_URL": "postgres://heroku:pw@ec2-1:5432/herokudb"}, &log)
		if err != nil {
			t.Fatal(err)
		}
		if err := waitExit(cmd, 2*time.Minute); err != nil {
			t.Fatalf("release: %v\n%s", err, log.String())
		}
		if page, _ := os.ReadFile(filepath.Join(dir, "index.html")); string(page) != "migrated herokudb as heroku\n" {
			t.Errorf("the release process wrote %q\n%s", page, log.String())
		}
	})
	t.Run("web leaves it to the platform", func(t *testing.T) {
		var log syncBuilder
		port, err := e2e.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		cmd, err := a.Start(command("web"), map[string]string{"RELEASE_DIR": releaseDir(t), "PORT": itoa(port), "BIND_ADDRESS": "127.0.0.1"}, &log)
		if err != nil {
			t.Fatal(err)
		}
		status, _, err := e2e.Get("http://127.0.0.1:"+itoa(port)+"/", 60*time.Second)
		_, _ = e2e.StopDyno(cmd)
		if err != nil || status != 404 || !strings.Contains(log.String(), "release task left to the platform's release phase") {
			t.Errorf("GET / = %d, %v; want 404 (no release task ran)\n%s", status, err, log.String())
		}
	})
	t.Run("Cloud Foundry has no release phase: web runs it", func(t *testing.T) {
		log := startAndGet(t, a, command("web"), map[string]string{"RELEASE_DIR": releaseDir(t),
			"VCAP_APPLICATION": `{"application_name":"app"}`, "DATABASE_URL": "postgres://cf:pw@10.0.0.9/cfdb"}, "migrated cfdb as cf\n")
		if !strings.Contains(log, "Cloud Foundry and Kf have no release phase") {
			t.Errorf("the launcher did not say why it ran the release task:\n%s", log)
		}
	})
	t.Run("cron fires on its schedule", func(t *testing.T) {
		var log syncBuilder
		cmd, err := a.Start(command("cron"), nil, &log)
		if err != nil {
			t.Fatal(err)
		}
		fired := waitFor(2*time.Minute, func() bool { return ticks(log.String()) >= 2 })
		_, _ = e2e.StopDyno(cmd)
		if !fired {
			t.Fatalf("the cron worker did not fire twice within 2 minutes:\n%s", log.String())
		}
	})
	t.Run("Heroku's DATABASE_URL becomes PG*", func(t *testing.T) {
		var log strings.Builder
		cmd, err := a.Start(command("printenv"), map[string]string{"DATABASE_URL": "postgres://u:p%20w@ec2-2:5433/d1"}, &log)
		if err != nil {
			t.Fatal(err)
		}
		if err := waitExit(cmd, 2*time.Minute); err != nil {
			t.Fatalf("printenv: %v\n%s", err, log.String())
		}
		want := "DATABASE_URL=postgres://u:p%20w@ec2-2:5433/d1 PGHOST=ec2-2 PGPORT=5433 PGUSER=u PGPASSWORD=p w PGDATABASE=d1\n"
		if !strings.Contains(log.String(), want) {
			t.Errorf("printenv said\n%s\nwant %s", log.String(), want)
		}
	})
}
