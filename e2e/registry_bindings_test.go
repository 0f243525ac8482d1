package e2e_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/e2e/s3server"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestRegistryBindings gives the S3 cache's credentials to the build as
// kpack mounts a secret referenced by an Image's spec.build.services (and
// Tekton a workspace): files in $CNB_PLATFORM_DIR/bindings/<name>/, with a
// type file saying nix-cache. Two builds on fresh pods through the creator:
// the first pushes to versitygw with them, the second reuses the previous
// image by the pointer it reads with them. The secret appears in no log and
// in no blob the registry holds (layers decompressed, configurations with
// their labels and environment, manifests, the cache image).
func TestRegistryBindings(t *testing.T) {
	r := startRegistryEnv(t)
	s3, err := s3server.Start(testenv.Require(t, "versitygw"), t.TempDir(), "nixcache")
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Stop()
	r.platformEnv = map[string]string{"BP_NIX_CACHE": "s3://nixcache/apps?region=us-east-1&endpoint=" + s3.Endpoint}
	r.bindings = map[string]map[string]string{"nix-cache-s3": {"type": "nix-cache", "access-key-id": s3.Access, "secret-access-key": s3.Secret}}
	hello := filepath.Join(testenv.RepoRoot(), "fixtures", "apps", "hello-web")

	first := r.build(t, "hello-web, S3 cache through a binding", "hello-web", hello)
	r.serve(t, first, "Hello from hello-web, built by Nix\n")
	if !strings.Contains(first.log, "Pushed ") || strings.Contains(first.log, "Pushed 0 store paths") {
		t.Fatalf("the first build did not push to S3 with the binding's credentials:\n%s", first.log)
	}
	second := r.build(t, "hello-web again, fresh pod", "hello-web", hello)
	r.serve(t, second, "Hello from hello-web, built by Nix\n")
	if !strings.Contains(second.log, "Reusing the previous image's launch layers") || !strings.Contains(second.log, "pointer in s3://nixcache/apps") {
		t.Errorf("the second build did not reuse the previous image by the S3 pointer:\n%s", second.log)
	}
	// The scan sees into layers: the page the app serves is found.
	if found, err := r.reg.BlobsContaining("Hello from hello-web, built by Nix"); err != nil || len(found) == 0 {
		t.Fatalf("the blob scan does not see the app's own page (%v), so it proves nothing", err)
	}
	for _, secret := range []string{s3.Secret, s3.Access} {
		for _, s := range []*step{first, second} {
			if strings.Contains(s.log, secret) {
				t.Errorf("%s: the creator's log holds a credential of the binding", s.label)
			}
		}
		found, err := r.reg.BlobsContaining(secret)
		if err != nil {
			t.Fatal(err)
		}
		if len(found) > 0 {
			names := make([]string, 0, len(found))
			for _, d := range found {
				names = append(names, d+" ("+second.names[d].Name+first.names[d].Name+")")
			}
			t.Errorf("a credential of the binding is in the registry's blobs: %v", names)
		}
	}
	t.Logf("S3 credentials reached the build through bindings/nix-cache-s3; none in the logs or in any of the registry's blobs")
}
