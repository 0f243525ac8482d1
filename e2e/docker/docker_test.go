package docker_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e/docker"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// setup starts the private daemon, packages the buildpack with Nix
// included and makes the builder on our busybox images: one builder for
// every app.
func setup(t *testing.T) *docker.Env {
	t.Helper()
	start := time.Now()
	env, cnb := startPackaged(t, "proot")
	if err := env.MakeBuilder(cnb); err != nil {
		t.Fatal(err)
	}
	t.Logf("dockerd, package and builder ready in %s", time.Since(start).Round(time.Millisecond))
	return env
}

// startPackaged starts the private daemon (stopped again when the test
// ends, if it started it) and packages the buildpack with Nix included;
// it returns the .cnb file. host are programs the caller needs on the host.
func startPackaged(t *testing.T, host ...string) (*docker.Env, string) {
	t.Helper()
	if os.Getuid() != 0 {
		testenv.Missing(t, "the Docker tests run as root, to run their own dockerd")
	}
	for _, tool := range append([]string{"dockerd", "docker"}, host...) {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, tool+" is not installed (apt-get install docker.io "+strings.Join(host, " ")+", or scripts/setup.sh)")
		}
	}
	testenv.Require(t, "pack")
	tools := testenv.ToolsDir()
	if _, err := os.Stat(filepath.Join(tools, "lifecycle-0.21.14", "lifecycle")); err != nil {
		testenv.Missing(t, "lifecycle 0.21.14 (scripts/tools.sh lifecycle)")
	}
	repo := testenv.RepoRoot()
	tarball := testenv.NixTarball(t)

	env, err := docker.Start(repo, tools)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = env.Docker(time.Minute, "image", "prune", "-f")
		if err := env.Stop(); err != nil {
			t.Errorf("stopping dockerd: %v", err)
		}
	})
	cnb, err := docker.Package(repo, t.TempDir(), tarball)
	if err != nil {
		t.Fatal(err)
	}
	return env, cnb
}

// strategyLine is the launcher's one line saying how it shows /nix: the
// strategy is the first group, or the second for a relocated image.
var strategyLine = regexp.MustCompile(`nixbp-launch: (?:/nix through (\w+)|no /nix needed: the closure is relocated to \S+ \((relocate)\))[^\n]*`)

// asBuilt keeps the store layers as built: under Docker's default seccomp
// our builder runs Nix through proot, where BP_NIX_RELOCATE=auto would
// relocate them (TestStock covers relocated images).
var asBuilt = []string{"--env", "BP_NIX_RELOCATE=never"}

// TestPackBuildAndRun builds fixture apps with `pack build` (as built, not
// relocated), runs each image on the plain run image (the launcher finds a
// way to show /nix) and hello-web also on the native-/nix run image, and
// stops them as Docker does.
func TestPackBuildAndRun(t *testing.T) {
	env := setup(t)
	apps := []struct{ name, body string }{
		{"hello-web", "Hello from hello-web, built by Nix\n"},
		{"static-site", "Static site served from the Nix store\n"},
		{"adr-attrs", "Hello from adr-attrs\n"},
	}
	for _, app := range apps {
		t.Run(app.name, func(t *testing.T) {
			image := "nixbp-e2e/" + app.name
			dir := t.TempDir()
			if err := docker.App(testenv.RepoRoot(), app.name, dir); err != nil {
				t.Fatal(err)
			}
			// Cold: no earlier image to reuse layers from, no build cache.
			_, _ = env.Docker(time.Minute, "rmi", "-f", image)
			out, took, err := env.Build(image, dir, append([]string{"--clear-cache"}, asBuilt...)...)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("cold pack build of %s: %s", app.name, took.Round(time.Millisecond))
			for _, want := range []string{"Reusing cached download from buildpack", "Successfully built image"} {
				if !strings.Contains(out, want) {
					t.Errorf("pack build output lacks %q:\n%s", want, out)
				}
			}

			strategy := serve(t, env, image, app.body)
			t.Logf("%s on %s: /nix through %s", app.name, docker.RunImage, strategy)
			if strategy != "userns" && strategy != "proot" {
				t.Errorf("on %s the launcher chose %s, want userns or proot (the image has no /nix)", docker.RunImage, strategy)
			}
			if app.name != "hello-web" {
				return
			}

			checkSBOM(t, env, image)

			// The same image moved onto the run image whose /nix is the
			// closure layer: no rebuild, no translation.
			native := image + "-native"
			if _, err := env.Docker(time.Minute, "tag", image, native); err != nil {
				t.Fatal(err)
			}
			if _, err := env.PackCmd(5*time.Minute, "rebase", native, "--run-image", docker.NativeRunImage,
				"--pull-policy", "never", "--force"); err != nil {
				t.Fatal(err)
			}
			if strategy := serve(t, env, native, app.body); strategy != "native" {
				t.Errorf("on %s the launcher chose %s, want native", docker.NativeRunImage, strategy)
			}

			out, took, err = env.Build(image, dir, asBuilt...)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("warm pack build of %s: %s", app.name, took.Round(time.Millisecond))
			for _, want := range []string{"Reusing Nix", "Reusing the runtime closure"} {
				if !strings.Contains(out, want) {
					t.Errorf("warm pack build output lacks %q:\n%s", want, out)
				}
			}
			// The lifecycle reuses a launch-only layer from the previous
			// image only when the buildpack leaves its directory absent;
			// anything written there (env.launch/ included) is exported
			// as the whole layer.
			for _, layer := range []string{"view", "launcher", "store-"} {
				if !strings.Contains(out, "Reusing layer 'nix-buildpack/nix:"+layer) {
					t.Errorf("the warm build exported a new %s layer instead of reusing the previous image's: "+
						"something wrote into the reused layer's directory (libcnb writes the layer's env.launch/ there)\n%s", layer, out)
				}
			}
			serve(t, env, image, app.body)
		})
	}
}

// serve runs image, expects body from GET /, stops the container as Docker
// does and expects the SIGTERM to have reached the app (a prompt stop, exit
// 143), and returns the /nix strategy the launcher logged.
func serve(t *testing.T, env *docker.Env, image, body string) string {
	t.Helper()
	c, err := env.Run(image)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Remove()
	status, got, err := c.Get(20 * time.Second)
	if err != nil || status != 200 || got != body {
		t.Fatalf("GET / on %s = %d %q, %v; want 200 %q\n%s", image, status, got, err, body, c.Logs())
	}
	code, took, err := c.Stop()
	if err != nil {
		t.Fatal(err)
	}
	logs := c.Logs()
	if code != 143 || took > 5*time.Second {
		t.Errorf("docker stop %s: exit %d after %s, want 143 (SIGTERM reached the app) well within the 10 s grace\n%s",
			image, code, took.Round(time.Millisecond), logs)
	}
	m := strategyLine.FindStringSubmatch(logs)
	if m == nil {
		t.Fatalf("%s logged no /nix strategy:\n%s", image, logs)
	}
	if n := len(strategyLine.FindAllString(logs, -1)); n != 1 {
		t.Errorf("%s logged the strategy %d times:\n%s", image, n, logs)
	}
	t.Log(m[0])
	return m[1] + m[2]
}

// checkSBOM downloads the image's SBOM with pack and expects every store
// path of the closure layer as a component, with its NAR hash.
func checkSBOM(t *testing.T, env *docker.Env, image string) {
	t.Helper()
	dir := t.TempDir()
	if _, err := env.PackCmd(5*time.Minute, "sbom", "download", image, "--output-dir", dir); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "layers", "sbom", "launch", "nix-buildpack_nix", "view")
	data, err := os.ReadFile(filepath.Join(base, "sbom.cdx.json"))
	if err != nil {
		t.Fatalf("pack sbom download gave no closure SBOM: %v", err)
	}
	if _, err := os.Stat(filepath.Join(base, "sbom.syft.json")); err != nil {
		t.Errorf("no Syft SBOM: %v", err)
	}
	var cdx struct {
		Components []struct {
			Name       string
			Properties []struct{ Name, Value string }
		}
	}
	if err := json.Unmarshal(data, &cdx); err != nil {
		t.Fatal(err)
	}
	var inSBOM []string
	for _, c := range cdx.Components {
		props := map[string]string{}
		for _, p := range c.Properties {
			props[p.Name] = p.Value
		}
		if !strings.HasPrefix(props["nix:nar-hash"], "sha256:") {
			t.Errorf("component %s has no NAR hash: %+v", c.Name, c.Properties)
		}
		inSBOM = append(inSBOM, filepath.Base(props["nix:store-path"]))
	}
	out, err := env.Docker(time.Minute, "run", "--rm", "--entrypoint", "/bin/ls", image, "/layers/nix-buildpack_nix/view/nix/store")
	if err != nil {
		t.Fatal(err)
	}
	inImage := strings.Fields(out)
	sort.Strings(inSBOM)
	sort.Strings(inImage)
	if strings.Join(inSBOM, " ") != strings.Join(inImage, " ") {
		t.Errorf("SBOM lists %v, the view layer links %v", inSBOM, inImage)
	}
	t.Logf("SBOM: %d components, %v", len(inSBOM), inSBOM)
}
