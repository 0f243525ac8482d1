package e2e_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e"
	"github.com/nix-buildpack/nix-buildpack/e2e/s3server"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// herokuEnv is what the Heroku-style tests share: the packaged Heroku
// tarball, extracted, and the Nix tarball it is pinned to.
type herokuEnv struct {
	buildpack, tarball, busybox string
	// cnb is the CNB buildpack directory packaged with it.
	cnb string
}

func setupHeroku(t *testing.T) herokuEnv {
	t.Helper()
	if os.Getuid() != 0 {
		testenv.Missing(t, "the Heroku-style tests run as root, to run the buildpack as uid 2000 and as root")
	}
	testenv.Require(t, "bash")
	testenv.Require(t, "setpriv")
	shared := openTempDir(t)
	tarball, err := e2e.Readable(testenv.NixTarball(t), shared)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(shared, "out")
	cnb, err := e2e.Package(testenv.RepoRoot(), out, tarball)
	if err != nil {
		t.Fatal(err)
	}
	bp, err := e2e.HerokuBuildpack(out, filepath.Join(shared, "heroku-buildpack"))
	if err != nil {
		t.Fatal(err)
	}
	return herokuEnv{buildpack: bp, tarball: tarball, busybox: "/bin/busybox", cnb: cnb}
}

// TestHeroku runs bin/detect, bin/compile and bin/release from the packaged
// tarball the way herokuish and Heroku's slug compiler do, then starts the
// web process from the slug moved to another directory.
func TestHeroku(t *testing.T) {
	en := setupHeroku(t)
	t.Run("Fixtures", func(t *testing.T) {
		for _, f := range fixtures {
			if f.failIn == "" {
				t.Run(f.app, func(t *testing.T) { coldAndWarm(t, en, f, uid, gid) })
			}
		}
	})
	// Older Dokku (and herokuish without an unprivileged user) runs the
	// buildpack as root.
	t.Run("Root", func(t *testing.T) { coldAndWarm(t, en, fixtures[0], 0, 0) })
	t.Run("Strategies", func(t *testing.T) { strategies(t, en) })
	t.Run("BundledPRoot", func(t *testing.T) { bundledPRoot(t, en) })
	t.Run("PackagedPRoot", func(t *testing.T) { checkPackagedPRoot(t, en.cnb, en.buildpack) })
	t.Run("OldProcfile", func(t *testing.T) { oldProcfile(t, en) })
	t.Run("BadInput", func(t *testing.T) { badInput(t, en) })
	t.Run("FailingFixtures", func(t *testing.T) { failingFixtures(t, en) })
	t.Run("Tarball", func(t *testing.T) { localTarball(t, en) })
	t.Run("OneOffBuild", func(t *testing.T) { oneOffBuild(t, en) })
	t.Run("DefaultSubstituters", func(t *testing.T) { defaultSubstituters(t, en) })
	t.Run("SharedCacheDir", func(t *testing.T) { sharedCacheDir(t, en) })
	t.Run("NativeSubstitution", func(t *testing.T) { nativeSubstitution(t, en) })
}

// defaultSubstituters compiles with the buildpack's default substituters
// (cache.nixos.org, unreachable from this offline machine): the build must
// pass, after a bounded delay that the test logs (one series of attempts,
// by the native substitution step, which then tells Nix to skip it).
func defaultSubstituters(t *testing.T, en herokuEnv) {
	a := newApp(t, en, "hello-web", filepath.Join(openTempDir(t), "cache"), map[string]string{"BP_NIX_SUBSTITUTERS": ""}, uid, gid)
	start := time.Now()
	out, err := a.Compile(nil)
	if err != nil {
		t.Fatalf("compile with the default substituters: %v\n%s", err, out)
	}
	t.Logf("cold compile with the default substituters, offline: %s", time.Since(start).Round(time.Millisecond))
	// The native substitution step finds cache.nixos.org down, after its
	// bounded attempts, and tells nix-build not to try it again.
	for _, want := range []string{"Substituters: https://cache.nixos.org (1 trusted keys", "warning: cache https://cache.nixos.org is not usable",
		"Nix is told not to substitute in this build: every substituter was found down"} {
		if !strings.Contains(out, want) {
			t.Errorf("compile log lacks %q:\n%s", want, out)
		}
	}
	serveSlug(t, a, "web", nil, fixtures[0].body)
}

// newApp lays out a fixture for compile; cache is shared between compiles
// of the same app.
func newApp(t *testing.T, en herokuEnv, app, cache string, envDir map[string]string, uid, gid int) *e2e.HerokuApp {
	t.Helper()
	return newAppAt(t, en, filepath.Join(testenv.RepoRoot(), "fixtures", "apps", app), cache, envDir, uid, gid)
}

// newAppAt is newApp for an app whose source is in the directory src.
func newAppAt(t *testing.T, en herokuEnv, src, cache string, envDir map[string]string, uid, gid int) *e2e.HerokuApp {
	t.Helper()
	envDir = e2e.Offline(envDir)
	if _, ok := envDir["NIXBP_NIX_TARBALL"]; !ok {
		envDir["NIXBP_NIX_TARBALL"] = en.tarball
	}
	a, err := e2e.NewHerokuApp(openTempDir(t), cache, e2e.HerokuOptions{
		AppSource: src, Buildpack: en.buildpack,
		Busybox: en.busybox, EnvDir: envDir, UID: uid, GID: gid})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func coldAndWarm(t *testing.T, en herokuEnv, f fixture, uid, gid int) {
	cache := filepath.Join(openTempDir(t), "cache")
	a := newApp(t, en, f.app, cache, nil, uid, gid)
	if out, _, code, err := a.Detect(); err != nil || code != 0 || out != "Nix\n" {
		t.Fatalf("bin/detect = %q, %d, %v; want \"Nix\", 0", out, code, err)
	}
	start := time.Now()
	out, err := a.Compile(nil)
	cold := time.Since(start)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("cold compile of %s (uid %d): %s", f.app, uid, cold.Round(time.Millisecond))
	for _, want := range []string{"-----> Installed Nix", "-----> Building hop3.nix with nix-build", "       Built /nix/store/", "Wrote Procfile"} {
		if !strings.Contains(out, want) {
			t.Errorf("cold compile log lacks %q:\n%s", want, out)
		}
	}
	release := serveSlug(t, a, "web", nil, f.body)
	if !strings.Contains(release, "default_process_types:\n  web: ") {
		t.Errorf("release YAML has no web process:\n%s", release)
	}
	// Only the runtime closure is in the slug: no .drv files, no Nix.
	store, err := os.ReadDir(filepath.Join(a.Run, ".nix", "store"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range store {
		if strings.HasSuffix(e.Name(), ".drv") || strings.Contains(e.Name(), "-nix-2") {
			t.Errorf("the slug holds %s, which is not in the runtime closure", e.Name())
		}
	}

	// The next push: a fresh checkout, the same CACHE_DIR.
	b := newApp(t, en, f.app, cache, nil, uid, gid)
	start = time.Now()
	out, err = b.Compile(nil)
	warm := time.Since(start)
	if err != nil {
		t.Fatalf("warm compile: %v\n%s", err, out)
	}
	t.Logf("warm compile of %s (uid %d): %s", f.app, uid, warm.Round(time.Millisecond))
	for _, want := range []string{"-----> Nix store in CACHE_DIR: ", "-----> Reusing Nix " + testenv.NixVersion} {
		if !strings.Contains(out, want) {
			t.Errorf("warm compile log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "building '/nix/store") {
		t.Errorf("warm compile ran a Nix build instead of reusing the store:\n%s", out)
	}
	serveSlug(t, b, "web", nil, f.body)
}

// serveSlug runs bin/release, moves the slug to its run path, starts the
// process type with PORT set and checks its HTTP answer. It returns the
// release YAML.
func serveSlug(t *testing.T, a *e2e.HerokuApp, processType string, env map[string]string, want string) string {
	t.Helper()
	release, err := a.Release()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Slug(); err != nil {
		t.Fatal(err)
	}
	command, err := a.ProcessCommand(release, processType)
	if err != nil {
		t.Fatal(err)
	}
	startAndGet(t, a, command, env, want)
	t.Logf("%s answered %q", processType, want)
	return release
}

func startAndGet(t *testing.T, a *e2e.HerokuApp, command string, env map[string]string, want string) string {
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
	cmd, err := a.Start(command, all, &log)
	if err != nil {
		t.Fatal(err)
	}
	status, body, err := e2e.Get("http://127.0.0.1:"+itoa(port)+"/", 10*time.Second)
	_, stopErr := e2e.StopDyno(cmd)
	if err != nil || status != 200 || body != want {
		t.Fatalf("GET / = %d %q, %v; want 200 %q\ncommand: %s\nprocess log:\n%s", status, body, err, want, command, log.String())
	}
	if stopErr != nil {
		t.Fatalf("stopping: %v\nprocess log:\n%s", stopErr, log.String())
	}
	return log.String()
}

// strategies forces proot at build time (NIX_STRATEGY from ENV_DIR, and
// BP_NIX_STRATEGY from the platform's environment) and at run time
// (NIXBP_STRATEGY); the default (auto) is userns here, covered above.
func strategies(t *testing.T, en herokuEnv) {
	testenv.Require(t, "proot")
	f := fixtures[0]
	for _, tc := range []struct {
		name        string
		envDir, env map[string]string
	}{
		{name: "NIX_STRATEGY", envDir: map[string]string{"NIX_STRATEGY": "proot"}},
		{name: "BP_NIX_STRATEGY", env: map[string]string{"BP_NIX_STRATEGY": "proot"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp(t, en, f.app, filepath.Join(openTempDir(t), "cache"), tc.envDir, uid, gid)
			out, err := a.Compile(tc.env)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !strings.Contains(out, "/nix through proot") {
				t.Fatalf("compile did not use proot:\n%s", out)
			}
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
			log := startAndGet(t, a, command, map[string]string{"NIXBP_STRATEGY": "proot"}, f.body)
			if !strings.Contains(log, "nixbp-launch: /nix through proot") {
				t.Fatalf("web did not run through proot:\n%s", log)
			}
			log = startAndGet(t, a, command, nil, f.body)
			if !strings.Contains(log, "nixbp-launch: /nix through userns") {
				t.Fatalf("web did not run through userns by default:\n%s", log)
			}
		})
	}
}

// bundledPRoot compiles and runs through proot on a machine without one on
// PATH: compile uses the buildpack's lib/linux-amd64/proot, the slug
// carries it in .nix/bin and the launcher uses it there.
func bundledPRoot(t *testing.T, en herokuEnv) {
	f := fixtures[0]
	path := testenv.PathWithout(t, "proot")
	a := newApp(t, en, f.app, filepath.Join(openTempDir(t), "cache"), map[string]string{"NIX_STRATEGY": "proot"}, uid, gid)
	out, err := a.Compile(map[string]string{"PATH": path})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if want := "/nix through proot " + filepath.Join(en.buildpack, "lib", "linux-amd64", "proot") + " (bundled)"; !strings.Contains(out, want) {
		t.Fatalf("compile log lacks %q:\n%s", want, out)
	}
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
	log := startAndGet(t, a, command, map[string]string{"NIXBP_STRATEGY": "proot", "PATH": path}, f.body)
	if want := "/.nix/bin/proot (bundled)"; !strings.Contains(log, "nixbp-launch: /nix through proot ") || !strings.Contains(log, want) {
		t.Fatalf("web did not run through the slug's bundled proot (%q):\n%s", want, log)
	}
}

// oldProcfile deploys an app whose Procfile starts commands of the result
// through run_result.sh and run_proot.sh, as the earlier Heroku Nix
// buildpacks' READMEs did: the Procfile is kept and release has no
// default process types.
func oldProcfile(t *testing.T, en herokuEnv) {
	testenv.Require(t, "proot")
	a := newApp(t, en, "adr-attrs", filepath.Join(openTempDir(t), "cache"), nil, uid, gid)
	www := `-h "$(readlink "$NIXBP_NIX_DIR/result")/www"`
	procfile := "web: run_result.sh bin/busybox httpd -f -p \"$BIND_ADDRESS:$PORT\" " + www + "\n" +
		"slow: run_proot.sh bin/busybox httpd -f -p \"$BIND_ADDRESS:$PORT\" " + www + "\n"
	if err := os.WriteFile(filepath.Join(a.Build, "Procfile"), []byte(procfile), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := a.Compile(nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	release, err := a.Release()
	if err != nil {
		t.Fatal(err)
	}
	if release != "--- {}\n" {
		t.Errorf("release with the app's Procfile = %q, want --- {}", release)
	}
	if err := a.Slug(); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(a.Run, "Procfile")); string(data) != procfile {
		t.Fatalf("the app's Procfile was changed:\n%s", data)
	}
	procs := e2e.ParseProcfile(procfile)
	startAndGet(t, a, procs["web"], nil, "Hello from adr-attrs\n")
	log := startAndGet(t, a, procs["slow"], nil, "Hello from adr-attrs\n")
	if !strings.Contains(log, "through proot") {
		t.Fatalf("run_proot.sh did not use proot:\n%s", log)
	}
}

// badInput checks that wrong configuration fails before anything is
// written: BUILD_DIR and a warm CACHE_DIR are left as they were.
func badInput(t *testing.T, en herokuEnv) {
	cache := filepath.Join(openTempDir(t), "cache")
	warm := newApp(t, en, "hello-web", cache, nil, uid, gid)
	if out, err := warm.Compile(nil); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	s3 := map[string]string{"NIX_S3_BUCKET": "nixcache", "NIX_S3_KEY": "AKIDEXAMPLE", "NIX_S3_SECRET": "s3cr3t-do-not-print"}
	for _, tc := range []struct {
		name    string
		envDir  map[string]string
		prepare func(a *e2e.HerokuApp) error
		want    []string
	}{
		{name: "S3 without NIX_APP_NAME", envDir: s3,
			want: []string{` !     NIX_APP_NAME="": not set, but NIX_S3_BUCKET, NIX_S3_KEY, NIX_S3_SECRET are set`, "set NIX_APP_NAME"}},
		{name: "unknown flag", envDir: map[string]string{"NIX_BUILD_FLAGS": "--cores 2 --frobnicate"},
			want: []string{"NIX_BUILD_FLAGS: unknown nix-build option --frobnicate", "--option NAME VALUE"}},
		{name: "not an option", envDir: map[string]string{"NIX_BUILD_FLAGS": "--show-trace default.nix"},
			want: []string{`NIX_BUILD_FLAGS: "default.nix" is not a nix-build option`, "takes options only"}},
		{name: "unreadable ENV_DIR file", envDir: map[string]string{"NIX_APP_NAME": "web"},
			prepare: func(a *e2e.HerokuApp) error {
				// Owned by root and mode 000: the build user cannot read it.
				p := filepath.Join(a.EnvDir, "NIX_APP_NAME")
				if err := os.Chown(p, 0, 0); err != nil {
					return err
				}
				return os.Chmod(p, 0)
			},
			want: []string{"unable to read config var NIX_APP_NAME from ", "/env/NIX_APP_NAME", "make the file readable by the build user"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp(t, en, "hello-web", cache, tc.envDir, uid, gid)
			if tc.prepare != nil {
				if err := tc.prepare(a); err != nil {
					t.Fatal(err)
				}
			}
			buildBefore, cacheBefore := tree(t, a.Build), tree(t, cache)
			out, err := a.Compile(nil)
			if err == nil {
				t.Fatalf("compile passed, want a failure:\n%s", out)
			}
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("compile output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "s3cr3t-do-not-print") {
				t.Errorf("the S3 secret reached the log:\n%s", out)
			}
			if tree(t, a.Build) != buildBefore {
				t.Errorf("the failed compile changed BUILD_DIR")
			}
			if tree(t, cache) != cacheBefore {
				t.Errorf("the failed compile changed CACHE_DIR")
			}
			t.Logf("compile said:\n%s", lastLines(out, 3))
		})
	}
}

func failingFixtures(t *testing.T, en herokuEnv) {
	a := newApp(t, en, "bad-toml", filepath.Join(openTempDir(t), "cache"), nil, uid, gid)
	stdout, stderr, code, err := a.Detect()
	if err != nil || code != 1 || stdout != "" || !strings.Contains(stderr, "hop3.toml:5: [build.nix] file must be a non-empty string, got integer") {
		t.Errorf("bin/detect of bad-toml = %q, %q, %d, %v", stdout, stderr, code, err)
	}
	for _, f := range fixtures {
		if f.failIn != "build" {
			continue
		}
		a := newApp(t, en, f.app, filepath.Join(openTempDir(t), "cache"), nil, uid, gid)
		out, err := a.Compile(nil)
		if err == nil {
			t.Fatalf("compile of %s passed:\n%s", f.app, out)
		}
		for _, want := range append([]string{" !     Nix build failed"}, f.errs...) {
			if !strings.Contains(out, want) {
				t.Errorf("compile of %s lacks %q:\n%s", f.app, want, out)
			}
		}
	}
}

// localTarball installs Nix from a tarball the buildpack does not pin (an
// air-gapped install of another Nix): refused without
// NIXBP_NIX_TARBALL_SHA256, accepted with it.
func localTarball(t *testing.T, en herokuEnv) {
	// The buildpack as released, pinning the official Nix tarball.
	bp := filepath.Join(openTempDir(t), "official")
	if err := os.MkdirAll(bp, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := execCommand("cp", "-a", en.buildpack+"/.", bp+"/"); err != nil {
		t.Fatal(out)
	}
	if out, err := execCommand("cp", filepath.Join(testenv.RepoRoot(), "buildpack.toml"), bp); err != nil {
		t.Fatal(out)
	}
	official := en
	official.buildpack = bp
	a := newApp(t, official, "hello-web", filepath.Join(openTempDir(t), "cache"), nil, uid, gid)
	out, err := a.Compile(nil)
	if err == nil || !strings.Contains(out, "does not match the buildpack.toml pin of Nix 2.34.8") ||
		!strings.Contains(out, "set BP_NIX_TARBALL_SHA256=") {
		t.Fatalf("a tarball that is not the pinned one: %v\n%s", err, out)
	}
	sum, err := execCommand("sha256sum", en.tarball)
	if err != nil {
		t.Fatal(sum)
	}
	a = newApp(t, official, "hello-web", filepath.Join(openTempDir(t), "cache"),
		map[string]string{"NIXBP_NIX_TARBALL_SHA256": strings.Fields(sum)[0]}, uid, gid)
	out, err = a.Compile(nil)
	if err != nil || !strings.Contains(out, "-----> Using Nix "+testenv.NixVersion+" from "+en.tarball+" (BP_NIX_TARBALL)") {
		t.Fatalf("compile with NIXBP_NIX_TARBALL_SHA256: %v\n%s", err, out)
	}
	serveSlug(t, a, "web", nil, fixtures[0].body)
}

// oneOffBuild builds on a one-off machine with bin/compile and a read-write
// cache (S3, keys as config vars), then deploys restore-only
// (NIX_BUILD_ON_PUSH=0) with an empty CACHE_DIR: no Nix build at deploy.
func oneOffBuild(t *testing.T, en herokuEnv) {
	s3, err := s3server.Start(testenv.Require(t, "versitygw"), t.TempDir(), "nixcache")
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Stop()
	config := map[string]string{"BP_NIX_CACHE": "s3://nixcache/hello?region=us-east-1&endpoint=" + s3.Endpoint,
		"AWS_ACCESS_KEY_ID": s3.Access, "AWS_SECRET_ACCESS_KEY": s3.Secret}
	oneOff := newApp(t, en, "hello-web", filepath.Join(openTempDir(t), "cache"), copyMap(config), uid, gid)
	out, err := oneOff.Compile(nil)
	if err != nil || !strings.Contains(out, "Pushed ") {
		t.Fatalf("one-off build did not push: %v\n%s", err, out)
	}
	deployEnv := copyMap(config)
	deployEnv["NIX_BUILD_ON_PUSH"] = "0"
	deploy := newApp(t, en, "hello-web", filepath.Join(openTempDir(t), "cache"), deployEnv, uid, gid)
	start := time.Now()
	out2, err := deploy.Compile(nil)
	if err != nil {
		t.Fatalf("restore-only deploy: %v\n%s", err, out2)
	}
	t.Logf("restore-only compile: %s", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(out2, "0 Nix builds") || strings.Contains(out2, "building '/nix/store") {
		t.Fatalf("restore-only deploy built:\n%s", out2)
	}
	for _, log := range []string{out, out2} {
		if strings.Contains(log, s3.Secret) {
			t.Fatal("the S3 secret reached the build log")
		}
	}
	serveSlug(t, deploy, "web", nil, fixtures[0].body)
}

func tree(t *testing.T, dir string) string {
	t.Helper()
	s, err := e2e.Tree(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func copyMap(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func execCommand(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
