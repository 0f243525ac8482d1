package cnb_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/buildpacks/libcnb/v2"
	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/cnb"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// buildpack makes a buildpack directory with buildpack.toml and a freshly
// built launcher, as scripts/package.sh lays it out.
func buildpack(t *testing.T) libcnb.Buildpack {
	t.Helper()
	repo := testenv.RepoRoot()
	dir := t.TempDir()
	var bp libcnb.Buildpack
	if _, err := toml.DecodeFile(filepath.Join(repo, "buildpack.toml"), &bp); err != nil {
		t.Fatal(err)
	}
	bp.Path = dir
	out := filepath.Join(dir, "lib", "linux-"+runtime.GOARCH, "nixbp-launch")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/nixbp-launch")
	cmd.Dir, cmd.Env = repo, append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build nixbp-launch: %v\n%s", err, b)
	}
	return bp
}

// TestBuild runs the CNB build function on a fixture app with a real Nix
// (the tarball fixture) and checks the layers and processes it returns;
// e2e runs the same through the lifecycle.
func TestBuild(t *testing.T) {
	ctx := buildContext(t)
	layers := ctx.Layers.Path
	var out bytes.Buffer
	res, err := cnb.NewBuild(log.NewPaketoLogger(&out))(ctx)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out.String())
	}
	names := map[string]libcnb.Layer{}
	for _, l := range res.Layers {
		names[l.Name] = l
	}
	for _, want := range []string{"nix", "view", "launcher"} {
		if _, ok := names[want]; !ok {
			t.Errorf("no %s layer in %v", want, names)
		}
	}
	if !names["nix"].LayerTypes.Cache || names["view"].LayerTypes.Cache || !names["view"].LayerTypes.Launch {
		t.Errorf("layer types: nix %+v, view %+v", names["nix"].LayerTypes, names["view"].LayerTypes)
	}
	stores := 0
	for n := range names {
		if strings.HasPrefix(n, "store-") {
			stores++
		}
	}
	links, _ := filepath.Glob(filepath.Join(layers, "view", "nix", "store", "*"))
	if stores != 2 || len(links) != 2 {
		t.Errorf("%d store layers, %d view links; want 2 each (the app and busybox)", stores, len(links))
	}
	for _, l := range links {
		if _, err := os.Stat(l); err != nil {
			t.Errorf("view link %s: %v", l, err)
		}
	}
	if len(res.Processes) != 1 || res.Processes[0].Type != "web" || !res.Processes[0].Default ||
		res.Processes[0].Command[0] != filepath.Join(layers, "launcher", "bin", "nixbp-launch") {
		t.Errorf("processes = %+v", res.Processes)
	}
	if _, err := os.Stat(filepath.Join(layers, "view.sbom.cdx.json")); err != nil {
		t.Errorf("no SBOM: %v", err)
	}
	if !strings.Contains(out.String(), "Runtime closure: 2 store paths") {
		t.Errorf("log:\n%s", out.String())
	}
}

// TestRebuildSaysWhy builds hello-web with a writable cache, rebuilds it
// unchanged (the previous image is reused whole), then after a settings
// change: the log says the previous image is not reused because the
// settings digest changed, and for each layer whether it is reused and
// why not.
func TestRebuildSaysWhy(t *testing.T) {
	ctx := buildContext(t)
	t.Setenv("BP_NIX_CACHE", "file://"+t.TempDir())
	res, out := build(t, ctx)
	for _, want := range []string{"Not reusing the previous image: there is none", "Contributing store layer store-", "Writing the view layer: no previous layer"} {
		if !strings.Contains(out, want) {
			t.Errorf("first build's log lacks %q:\n%s", want, out)
		}
	}
	writeLayerTOMLs(t, res)

	res, out = build(t, ctx)
	if !strings.Contains(out, "Reusing the previous image's launch layers") || strings.Count(out, "Reusing store layer store-") != 2 {
		t.Errorf("the unchanged rebuild does not say it reuses the previous image and its 2 store layers:\n%s", out)
	}
	writeLayerTOMLs(t, res)

	t.Setenv("BP_NIX_MAX_LAYERS", "50")
	_, out = build(t, ctx)
	t.Logf("rebuild after the settings change:\n%s", out)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`Not reusing the previous image: settings digest changed \([0-9a-f]{16}\.\.\. -> [0-9a-f]{16}\.\.\.\)`),
		regexp.MustCompile(`Reusing store layer store-\S+ \(1 store path\)(?s:.*)Reusing store layer store-\S+ \(1 store path\)`),
		regexp.MustCompile(`Writing the view layer: settings digest changed \([0-9a-f]{16}\.\.\. -> [0-9a-f]{16}\.\.\.\)`),
	} {
		if !want.MatchString(out) {
			t.Errorf("the rebuild's log does not match %s", want)
		}
	}
	if strings.Contains(out, "Contributing store layer") {
		t.Errorf("a store layer was rewritten, though its paths and rules did not change")
	}
}

// buildContext is a CNB build context for hello-web (with its busybox)
// and a fresh layers directory, with the tarball fixture as the Nix to
// install, offline.
func buildContext(t *testing.T) libcnb.BuildContext {
	t.Helper()
	tarball := testenv.NixTarball(t)
	sum, err := nixinstall.FileSHA256(tarball)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("BP_NIX_TARBALL", tarball)
	t.Setenv("BP_NIX_TARBALL_SHA256", sum)
	// Offline: this test is not about substituters.
	t.Setenv("BP_NIX_SUBSTITUTERS", "")
	app := t.TempDir()
	src, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "fixtures", "apps", "hello-web", "hop3.nix"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "hop3.nix"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Busybox(t, app)
	return libcnb.BuildContext{ApplicationPath: app, Buildpack: buildpack(t), Layers: libcnb.Layers{Path: t.TempDir()}}
}

// TestMain lets the test binary serve as the user-namespace child that
// nixmount re-executes, as cmd/build does.
func TestMain(m *testing.M) {
	nixmount.MaybeRunChild()
	os.Exit(m.Run())
}
