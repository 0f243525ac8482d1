package docker_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e"
	"github.com/nix-buildpack/nix-buildpack/e2e/docker"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestPackBuildSealed builds the leak app (e2e.LeakApp) with `pack build`
// on our builder, where Docker's default seccomp leaves Nix only proot,
// with the secrets as --env (pack writes them to /platform/env) and in two
// bindings mounted under /platform/bindings, and finds none of them in the
// page the image serves, the image (docker save), pack's build cache
// volumes or pack's output. (User namespaces, hence userns and a native
// /nix with hiding, are refused under Docker's default seccomp: those
// strategies are covered through the lifecycle, e2e TestSealedLifecycle.)
func TestPackBuildSealed(t *testing.T) {
	env := setup(t)
	secrets, err := e2e.NewLeakSecrets()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := testenv.Channel(filepath.Join(dir, "nixpkgs"), "/bin/busybox"); err != nil {
		t.Fatal(err)
	}
	files := []string{"/platform/bindings/nix-cache/secret-key", "/platform/bindings/db/password"}
	for k := range secrets.Env {
		files = append(files, "/platform/env/"+k)
	}
	if err := e2e.LeakApp(dir, secrets.Names(), files, []string{"/platform"}, []string{"/workspace", "/layers"}); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--clear-cache", "--env", "BP_NIX_NIXPKGS=nixpkgs"}, asBuilt...)
	for k, v := range secrets.Env {
		args = append(args, "--env", k+"="+v)
	}
	bindings := t.TempDir()
	for name, kv := range secrets.Bindings {
		for k, v := range kv {
			p := filepath.Join(bindings, name, k)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		args = append(args, "--volume", filepath.Join(bindings, name)+":/platform/bindings/"+name+":ro")
	}
	image := "nixbp-e2e/leak"
	_, _ = env.Docker(time.Minute, "rmi", "-f", image)
	before := volumes(t, env)
	out, took, err := env.Build(image, dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pack build of the leak app: %s", took.Round(time.Millisecond))
	logLines(t, out, "/nix through", "Hidden from Nix", "sandbox")
	for _, want := range []string{"/nix through proot", "Hidden from Nix (each shows as an empty directory or file): /platform (the platform directory)",
		"Nix's sandbox: off (/nix is shown through proot"} {
		if !strings.Contains(out, want) {
			t.Errorf("pack build output lacks %q:\n%s", want, out)
		}
	}
	noSecrets(t, secrets.Needles, "pack's output", []byte(out))

	c, err := env.Run(image)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Remove()
	status, page, err := c.Get(20 * time.Second)
	if err != nil || status != 200 || !strings.Contains(page, "leak-app-done") {
		t.Fatalf("GET / = %d %q, %v\n%s", status, page, err, c.Logs())
	}
	t.Logf("the leak app's page: %.600s", page)
	noSecrets(t, secrets.Needles, "the page the image serves", []byte(page))

	saved := filepath.Join(t.TempDir(), "image.tar")
	if _, err := env.Docker(5*time.Minute, "save", "-o", saved, image); err != nil {
		t.Fatal(err)
	}
	// docker save writes the layers as plain tar: file contents as they are.
	data, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	noSecrets(t, secrets.Needles, "the image (docker save, "+strconv.Itoa(len(data))+" bytes)", data)

	for vol := range volumes(t, env) {
		if before[vol] {
			continue
		}
		grep := "grep -rlF"
		for _, n := range secrets.Needles {
			grep += " -e '" + n + "'"
		}
		found, err := env.Docker(2*time.Minute, "run", "--rm", "--entrypoint", "/bin/sh", "-v", vol+":/c:ro", docker.RunImage,
			"-c", grep+" /c; echo searched $(find /c -type f | wc -l) files")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("volume %s: %s", vol, strings.TrimSpace(found))
		if !strings.HasPrefix(strings.TrimSpace(found), "searched") {
			t.Errorf("pack's volume %s holds a secret:\n%s", vol, found)
		}
	}
}

// volumes are the daemon's volumes (pack's build and launch caches).
func volumes(t *testing.T, env *docker.Env) map[string]bool {
	t.Helper()
	out, err := env.Docker(time.Minute, "volume", "ls", "-q")
	if err != nil {
		t.Fatal(err)
	}
	vols := map[string]bool{}
	for _, v := range strings.Fields(out) {
		vols[v] = true
	}
	return vols
}

func noSecrets(t *testing.T, needles []string, what string, data []byte) {
	t.Helper()
	for _, n := range needles {
		if i := bytes.Index(data, []byte(n)); i >= 0 {
			t.Errorf("%s holds the secret %.12s...: ...%.200q", what, n, data[max(0, i-100):min(len(data), i+100)])
		}
	}
}
