package k8s_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e/k8s"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// builder is the buildpack packaged from this checkout and the builder
// kpack made of it; the Tekton test builds with the same builder image.
type builder struct {
	bp *k8s.Buildpack
	// dir holds the packaged buildpack, removed when the cluster stops.
	dir string
	// Image is the builder image kpack pushed (by digest).
	Image string
}

var (
	builderOnce sync.Once
	theBuilder  *builder
	builderErr  error
)

// nixBuilder packages the buildpack (scripts/package.sh, Nix included, as an
// air-gapped cluster needs), pushes the .cnb as a buildpackage and has kpack
// make a builder of it, once for all tests: a ClusterStore holding the
// buildpackage, a ClusterStack of our busybox build and run images (with
// proot, no /nix), a Builder ordering nix-buildpack/nix.
func nixBuilder(t *testing.T, c *k8s.Cluster) *builder {
	t.Helper()
	tarball := testenv.NixTarball(t)
	builderOnce.Do(func() { theBuilder, builderErr = makeBuilder(c, tarball) })
	if builderErr != nil {
		t.Fatal(builderErr)
	}
	return theBuilder
}

func makeBuilder(c *k8s.Cluster, tarball string) (*builder, error) {
	out, err := os.MkdirTemp("", "nixbp-k8s-buildpack-")
	if err != nil {
		return nil, err
	}
	bp, err := k8s.Package(testenv.RepoRoot(), out, tarball)
	if err != nil {
		return nil, err
	}
	buildpackage := c.Reg + "/nixbp/buildpack:" + bp.Version
	if err := c.PushBuildpackage(bp.CNB, buildpackage, out); err != nil {
		return nil, err
	}
	if err := c.Apply(fmt.Sprintf(`apiVersion: v1
kind: ServiceAccount
metadata: {name: nixbp-builder, namespace: default}
---
apiVersion: kpack.io/v1alpha2
kind: ClusterStore
metadata: {name: nix-buildpack}
spec:
  sources: [{image: %[2]q}]
---
apiVersion: kpack.io/v1alpha2
kind: ClusterStack
metadata: {name: busybox}
spec:
  id: io.nixbp.busybox
  buildImage: {image: "%[1]s/nixbp/build:busybox"}
  runImage: {image: "%[1]s/nixbp/run:busybox"}
---
apiVersion: kpack.io/v1alpha2
kind: Builder
metadata: {name: nix, namespace: default}
spec:
  tag: "%[1]s/nixbp/builder"
  serviceAccountName: nixbp-builder
  stack: {kind: ClusterStack, name: busybox}
  store: {kind: ClusterStore, name: nix-buildpack}
  order: [{group: [{id: nix-buildpack/nix}]}]
`, c.Reg, buildpackage)); err != nil {
		return nil, err
	}
	// Ready is False (NoLatestImage) until the first builder image is made.
	if _, err := c.Kubectl("wait", "--for=condition=Ready", "builder.kpack.io/nix", "--timeout=600s"); err != nil {
		desc, _ := c.Kubectl("describe", "builder.kpack.io/nix")
		return nil, fmt.Errorf("kpack Builder nix not Ready: %v\n%s", err, desc)
	}
	image, err := c.Kubectl("get", "builder.kpack.io/nix", "-o", "jsonpath={.status.latestImage}")
	if err != nil {
		return nil, err
	}
	return &builder{bp: bp, dir: out, Image: image}, nil
}

// kpackImage is a kpack Image of the tests: the builder above, the cache
// image <tag>-cache, BP_NIX_CACHE on the S3 server with its credentials
// through the binding nix-cache-s3 (a Secret in spec.build.services).
type kpackImage struct {
	name, tag string
	// source is the Image's spec.source, as YAML flow.
	source string
	cache  string
}

func (im kpackImage) manifest() string {
	return fmt.Sprintf(`apiVersion: kpack.io/v1alpha2
kind: Image
metadata: {name: %s, namespace: default}
spec:
  tag: %q
  serviceAccountName: nixbp-builder
  builder: {kind: Builder, name: nix}
  source: %s
  cache: {registry: {tag: "%s-cache"}}
  build:
    env:
      - {name: BP_NIX_SUBSTITUTERS, value: none}
      - {name: BP_NIX_CACHE, value: %q}
    services:
      - {name: nix-cache-s3, kind: Secret, apiVersion: v1}
`, im.name, im.tag, im.source, im.tag, im.cache)
}

// kpackBuild is one Build of an Image.
type kpackBuild struct {
	name, pod, log string
	// image is the built image by digest ("" when the build failed).
	image     string
	succeeded bool
	message   string
	took      time.Duration
}

// awaitBuild waits for build number n of the Image and its end.
func awaitBuild(t *testing.T, c *k8s.Cluster, image string, n int) *kpackBuild {
	t.Helper()
	b := &kpackBuild{name: image + "-build-" + strconv.Itoa(n)}
	status, reason, msg, err := c.Condition("build.kpack.io/"+b.name, "Succeeded", 20*time.Minute)
	if err != nil {
		desc, _ := c.Kubectl("describe", "image.kpack.io/"+image)
		t.Fatalf("%v\n%s", err, desc)
	}
	// From the Build's creation to its end, as kpack recorded them.
	times, _ := c.Kubectl("get", "build.kpack.io/"+b.name, "-o",
		`jsonpath={.metadata.creationTimestamp} {.status.conditions[?(@.type=="Succeeded")].lastTransitionTime}`)
	if f := strings.Fields(times); len(f) == 2 {
		created, err1 := time.Parse(time.RFC3339, f[0])
		ended, err2 := time.Parse(time.RFC3339, f[1])
		if err1 == nil && err2 == nil {
			b.took = ended.Sub(created)
		}
	}
	b.pod, _ = c.Kubectl("get", "build.kpack.io/"+b.name, "-o", "jsonpath={.status.podName}")
	b.log = c.Logs(b.pod)
	b.succeeded, b.message = status == "True", strings.TrimSpace(reason+" "+msg)
	if b.succeeded {
		b.image, _ = c.Kubectl("get", "build.kpack.io/"+b.name, "-o", "jsonpath={.status.latestImage}")
	}
	return b
}

// mustSucceed ends the test unless the build succeeded.
func (b *kpackBuild) mustSucceed(t *testing.T) {
	t.Helper()
	if !b.succeeded || b.image == "" {
		t.Fatalf("kpack Build %s failed: %s\n%s", b.name, b.message, b.log)
	}
	t.Logf("kpack Build %s: %s in %s", b.name, b.image, b.took.Round(time.Second))
}

// trigger asks kpack for another build of the Image with nothing changed,
// as `kp image trigger` does: the annotation on its latest build.
func trigger(t *testing.T, c *k8s.Cluster, latest string) {
	t.Helper()
	if _, err := c.Kubectl("annotate", "--overwrite", "build.kpack.io/"+latest,
		"image.kpack.io/additionalBuildNeeded="+time.Now().UTC().Format(time.RFC3339)); err != nil {
		t.Fatal(err)
	}
}
