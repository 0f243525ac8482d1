package e2e_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestRegistryTektonPlatformAPI runs the creator with platform API 0.9, the
// one Tekton's buildpacks task (catalog 0.7) pins: an unchanged rebuild on
// a fresh pod reuses the previous image's launch layers there too, because
// the lifecycle restores their metadata from the previous image at that
// API as well.
func TestRegistryTektonPlatformAPI(t *testing.T) {
	r := startRegistryEnv(t)
	r.platformAPI = "0.9"
	hello := filepath.Join(testenv.RepoRoot(), "fixtures", "apps", "hello-web")
	first := r.build(t, "hello-web, platform API 0.9", "hello-web", hello)
	r.serve(t, first, "Hello from hello-web, built by Nix\n")
	second := r.build(t, "hello-web unchanged, fresh pod, platform API 0.9", "hello-web", hello)
	r.serve(t, second, "Hello from hello-web, built by Nix\n")
	if !strings.Contains(second.log, "Reusing the previous image's launch layers") || strings.Contains(second.log, "Installed Nix") {
		t.Errorf("platform API 0.9: the unchanged rebuild did not reuse the previous image:\n%s", second.log)
	}
	if n := len(second.uploadedStore()); n > 0 {
		t.Errorf("platform API 0.9: the unchanged rebuild uploaded %d store layers", n)
	}
	t.Logf("platform API 0.9: unchanged rebuild in %s, %d blobs uploaded (%s)", second.elapsed, len(second.traffic.Uploaded), mb(second.uploadedBytes()))
}
