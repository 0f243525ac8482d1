package e2e_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

const uid, gid = 2000, 2000

type fixture struct {
	app    string
	body   string   // expected HTTP body of web
	failIn string   // "detect" or "build" for failing fixtures
	errs   []string // expected in the failing phase's output
	env    map[string]string
	absent []string // paths under the app's store path pruned from the launch layer
}

var fixtures = []fixture{
	{app: "hello-web", body: "Hello from hello-web, built by Nix\n"},
	{app: "static-site", body: "Static site served from the Nix store\n"},
	{app: "adr-attrs", body: "Hello from adr-attrs\n"},
	{app: "pruned-web", body: "Hello from pruned-web\n", absent: []string{"share/doc"}},
	{app: "guard-violation", failIn: "build", errs: []string{"unable to prune the store: the rules remove paths the app needs",
		`.slugexclude:3: rule "- store/*" removes`, "needed by runtime.json path[0]"}},
	{app: "bad-toml", failIn: "detect", errs: []string{"hop3.toml:5: [build.nix] file must be a non-empty string, got integer"}},
	{app: "bad-runtime-json", failIn: "build", errs: []string{"hop3/runtime.json:1:36: invalid JSON"}},
	{app: "no-workers", failIn: "build", errs: []string{`"workers" is missing or empty`, "declare at least one process"}},
	{app: "eval-error", failIn: "build", errs: []string{"hop3.nix: nix-build failed", "undefined variable 'undefinedVariable'"}},
}

// env holds what every test here needs: the lifecycle, the packaged
// buildpack and the Nix tarball, made once.
type env struct {
	lifecycle, buildpack, tarball, busybox string
}

func setup(t *testing.T) env {
	t.Helper()
	if os.Getuid() != 0 {
		testenv.Missing(t, "the lifecycle tests run as root, to run the lifecycle as an unprivileged uid")
	}
	lc := filepath.Join(testenv.ToolsDir(), "lifecycle-0.21.14")
	if _, err := os.Stat(filepath.Join(lc, "lifecycle")); err != nil {
		testenv.Missing(t, "lifecycle 0.21.14 (scripts/tools.sh lifecycle)")
	}
	shared := openTempDir(t)
	tarball, err := e2e.Readable(testenv.NixTarball(t), shared)
	if err != nil {
		t.Fatal(err)
	}
	bp, err := e2e.Package(testenv.RepoRoot(), filepath.Join(shared, "out"), tarball)
	if err != nil {
		t.Fatal(err)
	}
	return env{lifecycle: lc, buildpack: bp, tarball: tarball, busybox: "/bin/busybox"}
}

func TestFixturesThroughTheLifecycle(t *testing.T) {
	en := setup(t)
	for _, f := range fixtures {
		t.Run(f.app, func(t *testing.T) {
			root := openTempDir(t)
			w, err := e2e.NewWorkspace(root, en.lifecycle, e2e.Options{
				AppSource: filepath.Join(testenv.RepoRoot(), "fixtures", "apps", f.app), Buildpack: en.buildpack,
				NixTarball: en.tarball, Busybox: en.busybox, Env: e2e.Offline(f.env), UID: uid, GID: gid})
			if err != nil {
				t.Fatal(err)
			}
			out, err := w.Detect()
			if f.failIn == "detect" {
				expectFailure(t, "detect", out, err, f.errs)
				return
			}
			if err != nil {
				t.Fatalf("detect: %v\n%s", err, out)
			}
			start := time.Now()
			out, err = w.Build()
			first := time.Since(start)
			if f.failIn == "build" {
				expectFailure(t, "build", out, err, f.errs)
				return
			}
			if err != nil {
				t.Fatalf("build: %v\n%s", err, out)
			}
			t.Logf("first build of %s: %s", f.app, first.Round(time.Millisecond))
			checkLayers(t, w)
			checkPruned(t, w, f.app, f.absent)
			serve(t, w, f.body)

			start = time.Now()
			out, err = w.Build()
			if err != nil {
				t.Fatalf("second build: %v\n%s", err, out)
			}
			t.Logf("unchanged second build of %s: %s", f.app, time.Since(start).Round(time.Millisecond))
			for _, want := range []string{"Reusing Nix", "Reusing the runtime closure"} {
				if !strings.Contains(out, want) {
					t.Errorf("second build log lacks %q:\n%s", want, out)
				}
			}
			serve(t, w, f.body)
		})
	}
}

func expectFailure(t *testing.T, phase, out string, err error, wants []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s passed, want a failure:\n%s", phase, out)
	}
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("%s output lacks %q:\n%s", phase, want, out)
		}
	}
}

func checkLayers(t *testing.T, w *e2e.Workspace) {
	t.Helper()
	launch, err := os.ReadFile(filepath.Join(w.Layers, "nix-buildpack_nix", "..", "config", "metadata.toml"))
	if err != nil {
		t.Fatalf("no metadata.toml: %v", err)
	}
	if !strings.Contains(string(launch), `type = "web"`) {
		t.Errorf("metadata.toml has no web process:\n%s", launch)
	}
	for _, name := range []string{"view", "launcher"} {
		toml, err := os.ReadFile(filepath.Join(w.Layers, "nix-buildpack_nix", name+".toml"))
		if err != nil || !strings.Contains(string(toml), "launch = true") {
			t.Errorf("%s.toml = %s, %v", name, toml, err)
		}
	}
	nixToml, err := os.ReadFile(filepath.Join(w.Layers, "nix-buildpack_nix", "nix.toml"))
	if err != nil || !strings.Contains(string(nixToml), "cache = true") {
		t.Errorf("nix.toml = %s, %v", nixToml, err)
	}
	// Only the runtime closure is in the launch layers: no .drv files, no
	// Nix. Each store path is in its own store-<hash> layer (fewer than
	// BP_NIX_MAX_LAYERS here), linked from the view layer.
	layers := filepath.Join(w.Layers, "nix-buildpack_nix")
	store, err := os.ReadDir(filepath.Join(layers, "view", "nix", "store"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range store {
		if strings.HasSuffix(e.Name(), ".drv") || strings.Contains(e.Name(), "-nix-2") {
			t.Errorf("launch layers hold %s, which is not in the runtime closure", e.Name())
		}
		layer := "store-" + e.Name()[:32]
		if target, err := os.Readlink(filepath.Join(layers, "view", "nix", "store", e.Name())); err != nil ||
			target != filepath.Join(layers, layer, "store", e.Name()) {
			t.Errorf("view link for %s -> %q, %v; want its layer %s", e.Name(), target, err, layer)
		}
		if toml, err := os.ReadFile(filepath.Join(layers, layer+".toml")); err != nil || !strings.Contains(string(toml), e.Name()) {
			t.Errorf("%s.toml = %s, %v", layer, toml, err)
		}
	}
}

func serve(t *testing.T, w *e2e.Workspace, want string) {
	t.Helper()
	port, err := e2e.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	cmd, err := w.Launch("web", map[string]string{"PORT": itoa(port), "BIND_ADDRESS": "127.0.0.1"}, &log)
	if err != nil {
		t.Fatal(err)
	}
	status, body, err := e2e.Get("http://127.0.0.1:"+itoa(port)+"/", 10*time.Second)
	code, stopErr := e2e.Stop(cmd)
	if err != nil || status != 200 || body != want {
		t.Fatalf("GET / = %d %q, %v; want 200 %q\nprocess log:\n%s", status, body, err, want, log.String())
	}
	if stopErr != nil {
		t.Fatalf("stopping web: %v\nprocess log:\n%s", stopErr, log.String())
	}
	t.Logf("web answered %q and exited %d on SIGTERM", body, code)
}

func itoa(i int) string { return strconv.Itoa(i) }

// openTempDir is a t.TempDir that the unprivileged build user can enter.
func openTempDir(t *testing.T) string {
	d := t.TempDir()
	for _, p := range []string{filepath.Dir(d), d} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// checkPruned checks that .slugexclude removed what it names from the launch
// layer, while the build store still has it.
func checkPruned(t *testing.T, w *e2e.Workspace, app string, absent []string) {
	t.Helper()
	layer := filepath.Join(w.Layers, "nix-buildpack_nix")
	matches, _ := filepath.Glob(filepath.Join(layer, "view", "nix", "store", "*-"+app))
	if len(matches) != 1 {
		t.Fatalf("launch layer has %d store paths for %s", len(matches), app)
	}
	for _, rel := range absent {
		if _, err := os.Lstat(filepath.Join(matches[0], rel)); !os.IsNotExist(err) {
			t.Errorf("%s/%s is in the launch layer; .slugexclude prunes it", matches[0], rel)
		}
		if _, err := os.Lstat(filepath.Join(layer, "nix", "nix", "store", filepath.Base(matches[0]), rel)); err != nil {
			t.Errorf("%s is missing from the build store too, so the test proves nothing: %v", rel, err)
		}
	}
}
