package k8s_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/e2e/docker"
	"github.com/nix-buildpack/nix-buildpack/e2e/k8s"
	"github.com/nix-buildpack/nix-buildpack/e2e/registry"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// kpackEnv is what the kpack tests share: the S3 server of the closure
// cache (its credentials in the binding Secret nix-cache-s3), the git and
// blob server.
type kpackEnv struct {
	c     *k8s.Cluster
	s3    *k8s.S3
	cache string
	src   *k8s.SourceServer
}

func startKpackEnv(t *testing.T) *kpackEnv {
	t.Helper()
	c := need(t)
	nixBuilder(t, c)
	s3, cache := sharedCache(t, c)
	src, err := c.ServeSources(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	return &kpackEnv{c: c, s3: s3, src: src, cache: cache}
}

var (
	cacheOnce sync.Once
	cacheS3   *k8s.S3
	cacheErr  error
)

// sharedCache starts the S3 server (versitygw, bucket nix-cache) inside the
// cluster's network namespace once for all tests, and the binding Secret
// nix-cache-s3 (type nix-cache) with its credentials. It returns the server
// and BP_NIX_CACHE. stop() stops the server before the cluster.
func sharedCache(t *testing.T, c *k8s.Cluster) (*k8s.S3, string) {
	t.Helper()
	versitygw := testenv.Require(t, "versitygw")
	cacheOnce.Do(func() {
		dir, err := os.MkdirTemp("", "nixbp-k8s-s3-")
		if err != nil {
			cacheErr = err
			return
		}
		if cacheS3, cacheErr = c.StartS3(versitygw, dir, "nix-cache"); cacheErr != nil {
			return
		}
		cacheErr = c.Apply(fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: nix-cache-s3, namespace: default}
type: Opaque
stringData: {type: nix-cache, access-key-id: %q, secret-access-key: %q}
`, cacheS3.Access, cacheS3.Secret))
	})
	if cacheErr != nil {
		t.Fatal(cacheErr)
	}
	return cacheS3, "s3://nix-cache/apps?region=us-east-1&endpoint=" + cacheS3.Endpoint
}

// gitImage commits the app in dir to the git server and applies a kpack
// Image building that commit.
func (k *kpackEnv) gitImage(t *testing.T, name, dir, message string) {
	t.Helper()
	commit, url, err := k.src.Commit(name, dir, message)
	if err != nil {
		t.Fatal(err)
	}
	im := kpackImage{name: name, tag: k.tag(name), cache: k.cache,
		source: fmt.Sprintf("{git: {url: %q, revision: %q}}", url, commit)}
	if err := k.c.Apply(im.manifest()); err != nil {
		t.Fatal(err)
	}
}

// tag is the image repository of the Image name in this run.
func (k *kpackEnv) tag(name string) string {
	return k.c.Reg + "/kpack/" + runID + "/" + name
}

// noSecrets checks that the S3 credentials reached no build log and no blob
// of the registry (layers decompressed, configurations, the cache images).
func (k *kpackEnv) noSecrets(t *testing.T, builds ...*kpackBuild) {
	t.Helper()
	for _, secret := range []string{k.s3.Secret, k.s3.Access} {
		for _, b := range builds {
			if strings.Contains(b.log, secret) {
				t.Errorf("kpack Build %s: its pod's log holds a credential of the binding", b.name)
			}
		}
		found, err := k.c.Registry.BlobsContaining(secret)
		if err != nil {
			t.Fatal(err)
		}
		if len(found) > 0 {
			t.Errorf("a credential of the binding is in the registry's blobs %v", found)
		}
	}
}

// app copies a fixture app with its busybox (bb/bin/sh a link to busybox).
func app(t *testing.T, fixture string) string {
	t.Helper()
	dir := t.TempDir()
	if err := docker.App(testenv.RepoRoot(), fixture, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestKpackGitSource builds hello-web with kpack from a git source (a
// repository served by git http-backend inside the cluster's network
// namespace), then after a one-line change, then unchanged on a fresh pod
// (a triggered rebuild), counting at the registry what each build sent:
// the change uploads the app's own store layer and the small layers, the
// unchanged rebuild nothing. The app has the project.toml docs/kpack.md
// tells users to add: kpack leaves the clone's .git in the source, which
// differs from clone to clone, so without the exclude every build sends the
// app layer again (measured: 2.19 MB here, the .git pack holding busybox). kpack's build pods run under RuntimeDefault
// seccomp: Nix runs through proot at build time and the image is relocated
// (it runs with no /nix), which the build log and the launcher say; the
// image runs as a pod under RuntimeDefault too and answers.
func TestKpackGitSource(t *testing.T) {
	t.Parallel()
	k := startKpackEnv(t)
	c := k.c
	hello := app(t, "hello-web")
	if err := os.WriteFile(filepath.Join(hello, "project.toml"), []byte(projectTOML), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("image.kpack.io/hello-web"); err != nil {
		t.Fatal(err)
	}
	// Only this Image's repositories are counted: the other tests build
	// at the same time.
	repo := strings.TrimPrefix(k.tag("hello-web"), c.Reg+"/")
	from := traffic(t, c, 0, repo)
	k.gitImage(t, "hello-web", hello, "hello-web")
	first := awaitBuild(t, c, "hello-web", 1)
	first.mustSucceed(t)
	sent := traffic(t, c, from.Lines, repo)
	t.Logf("%s (cold) uploaded %s", first.name, readUploads(t, c, first.image, sent))
	if sc, _ := c.Kubectl("get", "pod", first.pod, "-o", "jsonpath={.spec.securityContext.seccompProfile.type}"); sc != "RuntimeDefault" {
		t.Errorf("kpack's build pod %s has seccomp %q, want RuntimeDefault", first.pod, sc)
	}
	if got := buildStrategy(first.log); got != "proot" {
		t.Errorf("the kpack build's /nix went through %q, want proot (RuntimeDefault refuses user namespaces):\n%s", got, first.log)
	}
	log := serve(t, c, "kpack-hello-web-1", first.image, "RuntimeDefault", "/", "Hello from hello-web, built by Nix\n")
	if got := launchStrategy(log); got != "relocate" {
		t.Errorf("the kpack image's launcher showed /nix through %q, want relocate (no /nix needed):\n%s", got, log)
	}

	// A one-line change: a new commit, the Image's revision moved to it.
	nixFile := filepath.Join(hello, "hop3.nix")
	src, err := os.ReadFile(nixFile)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(src), "Hello from hello-web, built by Nix", "Hello again from hello-web, built by Nix", 1)
	if err := os.WriteFile(nixFile, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	from = sent
	k.gitImage(t, "hello-web", hello, "one-line change")
	second := awaitBuild(t, c, "hello-web", 2)
	second.mustSucceed(t)
	sent = traffic(t, c, from.Lines, repo)
	serve(t, c, "kpack-hello-web-2", second.image, "RuntimeDefault", "/", "Hello again from hello-web, built by Nix\n")
	checkChangeUploads(t, c, second, sent)

	// Unchanged, on a fresh pod: nothing uploaded.
	from = sent
	trigger(t, c, second.name)
	third := awaitBuild(t, c, "hello-web", 3)
	third.mustSucceed(t)
	sent = traffic(t, c, from.Lines, repo)
	if len(sent.Uploaded) > 0 {
		t.Errorf("the unchanged rebuild %s uploaded %d blobs %v, want none\n%s", third.name, len(sent.Uploaded), sent.Uploaded, third.log)
	}
	if !strings.Contains(third.log, "Reusing the previous image's launch layers") {
		t.Errorf("the unchanged rebuild %s did not reuse the previous image's launch layers:\n%s", third.name, third.log)
	}
	t.Logf("unchanged rebuild %s: %d blobs uploaded, %d manifests pushed, %d blobs (%d bytes) downloaded",
		third.name, len(sent.Uploaded), sent.Manifests, sent.Downloaded, sent.DownloadedBytes)
	k.noSecrets(t, first, second, third)
}

// projectTOML is the project descriptor that keeps the git clone's .git out
// of the app layer (kpack's build-init applies its exclude).
const projectTOML = `[_]
schema-version = "0.2"

[io.buildpacks]
exclude = [".git"]
`

// traffic is what the cluster's registry logged from line from on for the
// repository and its cache image's.
func traffic(t *testing.T, c *k8s.Cluster, from int, repo string) registry.Traffic {
	t.Helper()
	tr, err := c.Registry.TrafficOf(from, repo, repo+"-cache")
	if err != nil {
		t.Fatal(err)
	}
	return tr
}
