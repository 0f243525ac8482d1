package e2e_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/e2e"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestSealedLifecycle builds the leak app through the CNB lifecycle under
// each /nix strategy, with the secrets in platform/env and in bindings and
// a file:// closure cache the build signs for, and finds none of them in
// what the app served (read from its launch layer), the launch and cache
// layers, the closure cache or the build log.
func TestSealedLifecycle(t *testing.T) {
	en := setup(t)
	for _, strategy := range []string{"native", "userns", "proot"} {
		t.Run(strategy, func(t *testing.T) {
			if strategy == "proot" {
				testenv.Require(t, "proot")
			}
			root := openTempDir(t)
			secrets := leakSecrets(t)
			env := map[string]string{"BP_NIX_STRATEGY": strategy, "BP_NIX_CACHE": "file://" + filepath.Join(root, "closure-cache")}
			for k, v := range secrets.Env {
				env[k] = v
			}
			src := filepath.Join(root, "src")
			for _, d := range []string{src, filepath.Join(root, "closure-cache")} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			w, err := e2e.NewWorkspace(filepath.Join(root, "ws"), en.lifecycle, e2e.Options{AppSource: src, Buildpack: en.buildpack,
				NixTarball: en.tarball, Busybox: en.busybox, Nixpkgs: true, Env: e2e.Offline(env), Bindings: secrets.Bindings, UID: uid, GID: gid})
			if err != nil {
				t.Fatal(err)
			}
			if err := e2e.LeakApp(w.App, secrets.Names(), e2e.FilesUnder(w.Platform), []string{w.Platform}, []string{w.Root}); err != nil {
				t.Fatal(err)
			}
			chown(t, root)
			if out, err := w.Detect(); err != nil {
				t.Fatalf("detect: %v\n%s", err, out)
			}
			cmd := w.BuildCmd()
			if strategy == "native" {
				nixDir := filepath.Join(w.Layers, "nix-buildpack_nix", "nix", "nix")
				if err := os.MkdirAll(nixDir, 0o755); err != nil {
					t.Fatal(err)
				}
				chown(t, w.Layers)
				cmd = e2e.NativeNix(cmd, nixDir)
			}
			out, err := cmd.CombinedOutput()
			log := string(out)
			if err != nil {
				t.Fatalf("build: %v\n%s", err, log)
			}
			checkSealedLog(t, log, strategy, w.Platform)
			page := leakPage(t, w.Layers)
			noSecrets(t, secrets.Needles, "the page the app serves", page)
			noSecrets(t, secrets.Needles, "the build log", log)
			noSecretsIn(t, secrets.Needles, "the launch and cache layers", w.Layers)
			noSecretsIn(t, secrets.Needles, "the closure cache", filepath.Join(root, "closure-cache"))
			noSecretsIn(t, secrets.Needles, "the app directory", w.App)
		})
	}
}

// TestSealedHeroku compiles the leak app with the Heroku-style front-end
// under each strategy, with the secrets in ENV_DIR and one in compile's
// own environment (COMPILE_SECRET, as platforms that export config vars
// give it), and finds none in the page, the slug, CACHE_DIR, the closure
// cache or the compile log.
func TestSealedHeroku(t *testing.T) {
	en := setupHeroku(t)
	for _, strategy := range []string{"native", "userns", "proot"} {
		t.Run(strategy, func(t *testing.T) {
			if strategy == "proot" {
				testenv.Require(t, "proot")
			}
			root := openTempDir(t)
			secrets := leakSecrets(t)
			envDir := map[string]string{"BP_NIX_STRATEGY": strategy, "BP_NIX_CACHE": "file://" + filepath.Join(root, "closure-cache")}
			for k, v := range secrets.Env {
				envDir[k] = v
			}
			compileSecret := "compile-env-secret-" + filepath.Base(root)
			needles := append(append([]string{}, secrets.Needles...), compileSecret)
			src := filepath.Join(root, "src")
			for _, d := range []string{src, filepath.Join(root, "closure-cache")} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			a, err := e2e.NewHerokuApp(filepath.Join(root, "h"), filepath.Join(root, "h", "cache"), e2e.HerokuOptions{AppSource: src,
				Buildpack: en.buildpack, Busybox: en.busybox, Nixpkgs: true, EnvDir: envDir, UID: uid, GID: gid})
			if err != nil {
				t.Fatal(err)
			}
			if err := e2e.LeakApp(a.Build, secrets.Names(), e2e.FilesUnder(a.EnvDir), []string{a.EnvDir}, []string{a.Root}); err != nil {
				t.Fatal(err)
			}
			chown(t, root)
			cmd := a.CompileCommand(map[string]string{"COMPILE_SECRET": compileSecret, "AWS_SECRET_ACCESS_KEY": secrets.Env["AWS_SECRET_ACCESS_KEY"]})
			if strategy == "native" {
				nixDir := filepath.Join(a.Cache, "nix")
				if err := os.MkdirAll(nixDir, 0o755); err != nil {
					t.Fatal(err)
				}
				chown(t, a.Cache)
				cmd = e2e.NativeNix(cmd, nixDir)
			}
			out, err := cmd.CombinedOutput()
			log := string(out)
			if err != nil {
				t.Fatalf("compile: %v\n%s", err, log)
			}
			checkSealedLog(t, log, strategy, a.EnvDir)
			page := leakPage(t, a.Build)
			noSecrets(t, needles, "the page the app serves", page)
			noSecrets(t, needles, "the compile log", log)
			noSecretsIn(t, needles, "the slug", a.Build)
			noSecretsIn(t, needles, "CACHE_DIR", a.Cache)
			noSecretsIn(t, needles, "the closure cache", filepath.Join(root, "closure-cache"))
		})
	}
}

// checkSealedLog: the build took the strategy and says what it hid.
func checkSealedLog(t *testing.T, log, strategy, place string) {
	t.Helper()
	if !strings.Contains(log, "/nix through "+strategy) {
		t.Errorf("the build did not take %s:\n%s", strategy, log)
	}
	if !strings.Contains(log, "Hidden from Nix (each shows as an empty directory or file): ") || !strings.Contains(log, place) {
		t.Errorf("the build log does not say it hid %s:\n%s", place, log)
	}
	// Nix's sandbox is on where user namespaces are (docs/sealed-builds.md).
	want := "Nix's sandbox: on ("
	if strategy == "proot" {
		want = "Nix's sandbox: off (/nix is shown through proot"
	}
	if !strings.Contains(log, want) {
		t.Errorf("the build log lacks %q:\n%s", want, log)
	}
	logLines(t, strategy, log, "Hidden from Nix", "/proc", "not hidden", "warning", "sandbox")
}

// leakPage finds the leak app's page (index.html holding leak-app-done)
// in a launch layer or slug: the app ran to the end.
func leakPage(t *testing.T, dir string) string {
	t.Helper()
	var page string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "index.html" {
			return nil
		}
		if data, err := os.ReadFile(p); err == nil && bytes.Contains(data, []byte("leak-app-done")) {
			page = string(data)
		}
		return nil
	})
	if page == "" {
		t.Fatalf("no page of the leak app under %s", dir)
	}
	t.Logf("the leak app's page: %.600s", page)
	return page
}

func noSecrets(t *testing.T, needles []string, what, text string) {
	t.Helper()
	for _, n := range needles {
		if i := strings.Index(text, n); i >= 0 {
			t.Errorf("%s holds the secret %.12s...: ...%.200s", what, n, text[max(0, i-100):])
		}
	}
}

// noSecretsIn greps every file under dir, NARs (.zst) and Nix's build
// logs (.bz2) decompressed, for the needles.
func noSecretsIn(t *testing.T, needles []string, what, dir string) {
	t.Helper()
	found, files, err := e2e.SecretsIn(needles, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		t.Errorf("%s holds %s", what, f)
	}
	t.Logf("%s: %d files searched", what, files)
}

// leakSecrets makes the secrets of one build.
func leakSecrets(t *testing.T) e2e.LeakSecrets {
	t.Helper()
	s, err := e2e.NewLeakSecrets()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func chown(t *testing.T, dir string) {
	t.Helper()
	if out, err := execCommand("chown", "-R", fmt.Sprintf("%d:%d", uid, gid), dir); err != nil {
		t.Fatalf("chown: %v\n%s", err, out)
	}
}

// TestUnsealedNativeWarns builds the leak app where nothing can be hidden:
// /nix is native and user namespaces are refused (the dyno's seccomp
// filter). The build warns, naming the secrets it exposes; the evaluator
// still sees none of the environment's (the allow-list), but the builder
// reads platform/env from disk, which shows that the leak app finds what
// is not hidden (the other tests' control).
func TestUnsealedNativeWarns(t *testing.T) {
	en := setup(t)
	dyno := dynoHarness(t)
	root := openTempDir(t)
	secrets := leakSecrets(t)
	env := map[string]string{"BP_NIX_STRATEGY": "native"}
	for k, v := range secrets.Env {
		env[k] = v
	}
	src := filepath.Join(root, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := e2e.NewWorkspace(filepath.Join(root, "ws"), en.lifecycle, e2e.Options{AppSource: src, Buildpack: en.buildpack,
		NixTarball: en.tarball, Busybox: en.busybox, Nixpkgs: true, Env: e2e.Offline(env), Bindings: secrets.Bindings, UID: uid, GID: gid})
	if err != nil {
		t.Fatal(err)
	}
	if err := e2e.LeakApp(w.App, secrets.Names(), e2e.FilesUnder(w.Platform), []string{w.Platform}, []string{w.Root}); err != nil {
		t.Fatal(err)
	}
	nixDir := filepath.Join(w.Layers, "nix-buildpack_nix", "nix", "nix")
	if err := os.MkdirAll(nixDir, 0o755); err != nil {
		t.Fatal(err)
	}
	chown(t, root)
	if out, err := w.Detect(); err != nil {
		t.Fatalf("detect: %v\n%s", err, out)
	}
	dyno.Nix = nixDir
	argv, benv := w.BuildCommand()
	out, err := dyno.Command(benv, argv...).CombinedOutput()
	log := string(out)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, log)
	}
	logLines(t, "native, no namespaces", log, "warning: the app's Nix code", "warning: exposed")
	for _, want := range []string{"/nix through native", "warning: the app's Nix code can read the platform's secrets here: " + w.Platform + " (the platform directory)",
		"warning: exposed to the build: ", "AWS_SECRET_ACCESS_KEY", "BP_NIX_CACHE_SECRET_KEY", "binding nix-cache (type nix-cache)"} {
		if !strings.Contains(log, want) {
			t.Errorf("the build log lacks %q:\n%s", want, log)
		}
	}
	page := leakPage(t, w.Layers)
	if !strings.Contains(page, "AWS_SECRET_ACCESS_KEY= ") && !strings.Contains(page, "AWS_SECRET_ACCESS_KEY=\n") {
		t.Errorf("the evaluator saw AWS_SECRET_ACCESS_KEY in its environment: %.400s", page)
	}
	if !strings.Contains(page, secrets.Env["AWS_SECRET_ACCESS_KEY"]) {
		t.Errorf("the leak app did not read platform/env from disk where nothing is hidden: the test's leak app finds nothing")
	}
	noSecrets(t, secrets.Needles, "the build log", log)
}
