package k8s_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestKpackBlobSymlink builds hello-web from a blob source (a .tar.gz on
// the source server) with kpack. kpack unpacks blob and registry sources
// keeping directories and regular files only (pkg/archive): the app's
// symbolic link bb/bin/sh -> busybox is dropped without a word, and the
// Nix build that runs ${bb}/bin/sh fails. The same source from git (which
// keeps links) builds: TestKpackGitSource. docs/kpack.md tells users so.
func TestKpackBlobSymlink(t *testing.T) {
	t.Parallel()
	k := startKpackEnv(t)
	hello := app(t, "hello-web")
	url, err := k.src.Blob("hello-web.tar.gz", hello)
	if err != nil {
		t.Fatal(err)
	}
	im := kpackImage{name: "hello-web-blob", tag: k.tag("hello-web-blob"), cache: k.cache,
		source: fmt.Sprintf("{blob: {url: %q}}", url)}
	if err := k.c.Delete("image.kpack.io/" + im.name); err != nil {
		t.Fatal(err)
	}
	if err := k.c.Apply(im.manifest()); err != nil {
		t.Fatal(err)
	}
	b := awaitBuild(t, k.c, im.name, 1)
	if b.succeeded {
		t.Fatalf("kpack built %s from a blob whose bb/bin/sh link it drops; want the build to fail:\n%s", b.image, b.log)
	}
	if !strings.Contains(b.log, "bb/bin/sh") {
		t.Errorf("the failed build's log does not name the missing bb/bin/sh:\n%s", b.log)
	}
	for _, line := range strings.Split(b.log, "\n") {
		if strings.Contains(line, "bb/bin/sh") {
			t.Logf("blob source with a symlink: %s", plain(line))
		}
	}
}

// TestKpackSharedCache builds two apps with kpack at once, two build pods
// pushing to the same S3 closure cache: adr-attrs and growing-web, whose
// runtime closures both hold the same busybox store path, so both push it
// at the same moment. Then it downloads every NAR of the cache and checks
// it against its narinfo and references (`nixbp cache verify`): neither
// build corrupted what the other wrote.
func TestKpackSharedCache(t *testing.T) {
	t.Parallel()
	k := startKpackEnv(t)
	apps := map[string]string{"adr-attrs": "Hello from adr-attrs\n", "growing-web": "Hello from growing-web\n"}
	for name := range apps {
		if err := k.c.Delete("image.kpack.io/" + name); err != nil {
			t.Fatal(err)
		}
	}
	for name := range apps {
		k.gitImage(t, name, app(t, name), name)
	}
	var builds []*kpackBuild
	for name, want := range apps {
		b := awaitBuild(t, k.c, name, 1)
		b.mustSucceed(t)
		if !strings.Contains(b.log, "Pushed ") || strings.Contains(b.log, "Pushed 0 store paths") {
			t.Errorf("%s pushed nothing to the shared cache:\n%s", b.name, b.log)
		}
		for _, line := range strings.Split(b.log, "\n") {
			if strings.Contains(line, "Pushing ") || strings.Contains(line, "Pushed ") || strings.Contains(line, "Fetched ") {
				t.Logf("%s: %s", b.name, plain(line))
			}
		}
		serve(t, k.c, "kpack-"+name, b.image, "RuntimeDefault", "/", want)
		builds = append(builds, b)
	}
	// Both pods ran at once: each one's start came before the other's end.
	var spans []string
	for _, b := range builds {
		s, _ := k.c.Kubectl("get", "pod", b.pod, "-o", "jsonpath={.status.startTime}")
		spans = append(spans, b.name+" from "+s)
	}
	t.Logf("build pods: %s", strings.Join(spans, ", "))
	env := []string{"AWS_ACCESS_KEY_ID=" + k.s3.Access, "AWS_SECRET_ACCESS_KEY=" + k.s3.Secret}
	start := time.Now()
	out, err := k.c.Run(env, theBuilder.bp.Nixbp, "cache", "--cache", k.cache, "verify")
	if err != nil {
		t.Fatalf("nixbp cache verify after two concurrent builds: %v\n%s", err, out)
	}
	t.Logf("nixbp cache verify (%s): %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(out))
	ls, err := k.c.Run(env, theBuilder.bp.Nixbp, "cache", "--cache", k.cache, "ls")
	if err != nil {
		t.Fatal(err)
	}
	for name := range apps {
		if !strings.Contains(ls, "-"+name+"\t") && !strings.Contains(ls, "-"+name+" ") {
			t.Errorf("the shared cache lacks %s's store path:\n%s", name, ls)
		}
	}
	t.Logf("the shared cache:\n%s", ls)
	k.noSecrets(t, builds...)
}
