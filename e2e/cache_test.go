package e2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/e2e"
	"github.com/nix-buildpack/nix-buildpack/e2e/s3server"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestRestoreFromS3 builds hello-web with an S3 cache, then builds it again
// from scratch (new layers, so a fresh store): the second build restores the
// closure through the source pointer and runs no Nix build.
func TestRestoreFromS3(t *testing.T) {
	en := setup(t)
	s3, err := s3server.Start(testenv.Require(t, "versitygw"), t.TempDir(), "nixcache")
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Stop()
	env := map[string]string{"BP_NIX_CACHE": "s3://nixcache/apps?region=us-east-1&endpoint=" + s3.Endpoint}
	bindings := map[string]map[string]string{"cache": {"type": "nix-cache", "access-key-id": s3.Access, "secret-access-key": s3.Secret}}

	first := buildApp(t, en, "hello-web", env, bindings)
	if !strings.Contains(first, "Pushed ") || strings.Contains(first, "Pushed 0 store paths") {
		t.Fatalf("first build did not push:\n%s", first)
	}
	second := buildApp(t, en, "hello-web", env, bindings)
	for _, want := range []string{"by the source digest, without evaluating Nix: 0 Nix builds", "Restored "} {
		if !strings.Contains(second, want) {
			t.Errorf("second build log lacks %q:\n%s", want, second)
		}
	}
	if strings.Contains(second, "building '/nix/store") {
		t.Errorf("second build ran a Nix build:\n%s", second)
	}
	logLines(t, "first build", first, "Pushed", "Built", "Restoring")
	logLines(t, "second build", second, "Restored", "Restoring", "Runtime closure")
	for _, log := range []string{first, second} {
		if strings.Contains(log, s3.Secret) {
			t.Fatalf("the S3 secret reached the build log")
		}
	}
}

// TestUnreachableCacheStillBuilds points the cache at a port nothing
// listens on: the build warns and builds locally.
func TestUnreachableCacheStillBuilds(t *testing.T) {
	en := setup(t)
	port, err := e2e.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"BP_NIX_CACHE": "s3://nixcache?region=us-east-1&endpoint=http://127.0.0.1:" + itoa(port)}
	bindings := map[string]map[string]string{"cache": {"type": "nix-cache", "access-key-id": "AK", "secret-access-key": "wrong-secret-xyz"}}
	out := buildApp(t, en, "hello-web", env, bindings)
	if !strings.Contains(out, "warning") || !strings.Contains(out, "Built /nix/store/") {
		t.Fatalf("build with a dead cache did not warn and build:\n%s", out)
	}
	if strings.Contains(out, "wrong-secret-xyz") {
		t.Fatal("the S3 secret reached the build log")
	}
}

// buildApp runs detect and build of a fixture in a fresh workspace and
// returns the build log; the web process must answer.
func buildApp(t *testing.T, en env, app string, platformEnv map[string]string, bindings map[string]map[string]string) string {
	t.Helper()
	root := openTempDir(t)
	w, err := e2e.NewWorkspace(root, en.lifecycle, e2e.Options{
		AppSource: filepath.Join(testenv.RepoRoot(), "fixtures", "apps", app), Buildpack: en.buildpack,
		NixTarball: en.tarball, Busybox: en.busybox, Env: e2e.Offline(platformEnv), Bindings: bindings, UID: uid, GID: gid})
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
	serve(t, w, "Hello from hello-web, built by Nix\n")
	_ = os.RemoveAll(root)
	return out
}

// logLines logs the lines of a build log that hold one of the words.
func logLines(t *testing.T, what, log string, words ...string) {
	t.Helper()
	for _, line := range strings.Split(log, "\n") {
		for _, w := range words {
			if strings.Contains(line, w) {
				t.Logf("%s: %s", what, strings.TrimSpace(line))
				break
			}
		}
	}
}
