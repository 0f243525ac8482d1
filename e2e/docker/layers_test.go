package docker_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e/docker"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// manyPaths is an app whose closure has five store paths (bb, three
// libraries, the app), more than BP_NIX_MAX_LAYERS=3 allows one layer each.
const manyPaths = `let
  bb = ./bb;
  lib = n: derivation {
    name = "lib-${n}"; system = "x86_64-linux"; builder = "${bb}/bin/sh"; PATH = "${bb}/bin";
    args = [ "-c" "mkdir -p $out && echo ${n} > $out/${n} && ln -s ${bb} $out/bb" ];
  };
  libs = map lib [ "a" "b" "c" ];
in {
  package = derivation {
    name = "many-paths"; system = "x86_64-linux"; builder = "${bb}/bin/sh"; PATH = "${bb}/bin";
    args = [ "-c" ''
      set -e
      mkdir -p $out/www $out/hop3
      echo "Hello from many-paths" > $out/www/index.html
      echo ${toString libs} > $out/libs
      echo '{"workers": {"web": "busybox httpd -f -p \"$BIND_ADDRESS:$PORT\" -h '$out'/www"}, "path": ["${bb}/bin"]}' > $out/hop3/runtime.json
    '' ];
  };
}
`

// TestStoreLayers checks that store paths are image layers of their own:
// two apps sharing busybox share its layer's digest (and the launcher's), a
// one-line change of an app changes only its own layer and the view, and a
// closure larger than BP_NIX_MAX_LAYERS is grouped and still runs.
func TestStoreLayers(t *testing.T) {
	env := setup(t)
	hello, adr := t.TempDir(), t.TempDir()
	for dir, app := range map[string]string{hello: "hello-web", adr: "adr-attrs"} {
		if err := docker.App(testenv.RepoRoot(), app, dir); err != nil {
			t.Fatal(err)
		}
	}
	build := func(image, dir string, extra ...string) map[string]string {
		t.Helper()
		_, _ = env.Docker(time.Minute, "rmi", "-f", image)
		out, took, err := env.Build(image, dir, append(extra, asBuilt...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("pack build %s: %s", image, took.Round(time.Millisecond))
		return layerDigests(t, env, image, out)
	}

	a := build("nixbp-e2e/layers-hello", hello, "--clear-cache")
	b := build("nixbp-e2e/layers-adr", adr, "--clear-cache")
	shared := 0
	for name, sha := range a {
		if other, ok := b[name]; ok && name != "view" {
			shared++
			if other != sha {
				t.Errorf("layer %s differs between the apps: %s and %s", name, sha, other)
			}
		}
	}
	if _, ok := a["launcher"]; !ok || shared < 2 {
		t.Errorf("apps share %d layers (want the launcher and busybox's store layer)\n%v\n%v", shared, a, b)
	}

	// A one-line change: a new app store path, everything else reused.
	nixFile := filepath.Join(hello, "hop3.nix")
	src, err := os.ReadFile(nixFile)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(src), "Hello from hello-web, built by Nix", "Hello again from hello-web", 1)
	if err := os.WriteFile(nixFile, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := env.Build("nixbp-e2e/layers-hello", hello, asBuilt...)
	if err != nil {
		t.Fatal(err)
	}
	a2 := layerDigests(t, env, "nixbp-e2e/layers-hello", out)
	var gone, added []string
	for name, sha := range a {
		switch other, ok := a2[name]; {
		case !ok:
			gone = append(gone, name)
		case other != sha && name != "view":
			t.Errorf("layer %s changed (%s -> %s) though its store paths did not", name, sha, other)
		case other == sha && name != "view" && !strings.Contains(out, "Reusing layer 'nix-buildpack/nix:"+name+"'"):
			t.Errorf("layer %s kept its digest but was not reused by the exporter", name)
		}
	}
	for name := range a2 {
		if _, ok := a[name]; !ok {
			added = append(added, name)
		}
	}
	if len(gone) != 1 || len(added) != 1 {
		t.Errorf("the change replaced layers %v with %v, want the app's one layer", gone, added)
	}
	serve(t, env, "nixbp-e2e/layers-hello", "Hello again from hello-web\n")

	// More store paths than layers allowed: two single layers and a group.
	many := t.TempDir()
	if err := docker.App(testenv.RepoRoot(), "hello-web", many); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(many, "hop3.nix"), []byte(manyPaths), 0o644); err != nil {
		t.Fatal(err)
	}
	m := build("nixbp-e2e/layers-many", many, "--env", "BP_NIX_MAX_LAYERS=3")
	var store, groups int
	for name := range m {
		if strings.HasPrefix(name, "store-") {
			store++
		}
		if strings.HasPrefix(name, "store-group-") {
			groups++
		}
	}
	if store != 3 || groups != 1 {
		t.Errorf("BP_NIX_MAX_LAYERS=3 gave %d store layers, %d groups: %v", store, groups, m)
	}
	serve(t, env, "nixbp-e2e/layers-many", "Hello from many-paths\n")

	// On the native run image the grouped paths are reached through the
	// view's links like the others: native still.
	native := "nixbp-e2e/layers-many-native"
	if _, err := env.Docker(time.Minute, "tag", "nixbp-e2e/layers-many", native); err != nil {
		t.Fatal(err)
	}
	if _, err := env.PackCmd(5*time.Minute, "rebase", native, "--run-image", docker.NativeRunImage,
		"--pull-policy", "never", "--force"); err != nil {
		t.Fatal(err)
	}
	if strategy := serve(t, env, native, "Hello from many-paths\n"); strategy != "native" {
		t.Errorf("on %s with grouped store paths the launcher chose %s, want native", docker.NativeRunImage, strategy)
	}
}

// layerDigests maps the buildpack's layer names to their diff IDs, from the
// image's lifecycle metadata label, and checks each is one of the image's
// layers.
func layerDigests(t *testing.T, env *docker.Env, image, buildLog string) map[string]string {
	t.Helper()
	out, err := env.Docker(time.Minute, "image", "inspect", "-f",
		`{{index .Config.Labels "io.buildpacks.lifecycle.metadata"}}|{{json .RootFS.Layers}}`, image)
	if err != nil {
		t.Fatal(err)
	}
	label, layers, _ := strings.Cut(strings.TrimSpace(out), "|")
	var md struct {
		Buildpacks []struct {
			Key    string
			Layers map[string]struct{ SHA string }
		}
	}
	if err := json.Unmarshal([]byte(label), &md); err != nil {
		t.Fatalf("lifecycle metadata of %s: %v\n%s", image, err, label)
	}
	digests := map[string]string{}
	for _, bp := range md.Buildpacks {
		if bp.Key == "nix-buildpack/nix" {
			for name, l := range bp.Layers {
				digests[name] = l.SHA
			}
		}
	}
	for name, sha := range digests {
		if !strings.Contains(layers, sha) {
			t.Errorf("%s: layer %s (%s) is not among the image's layers %s", image, name, sha, layers)
		}
	}
	if len(digests) == 0 {
		t.Fatalf("%s has no nix-buildpack layers in its metadata\n%s", image, buildLog)
	}
	return digests
}
