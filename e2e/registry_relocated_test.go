package e2e_test

import (
	"path/filepath"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestRegistryRelocated builds relocated images (BP_NIX_RELOCATE=always)
// as TestRegistryDaemonless builds plain ones, and shows that the fixed
// prefix keeps relocated store layers shareable: after a one-line change
// only the app's own store layer is sent, adr-attrs stores none of the
// relocated layers it shares with hello-web again, and an unchanged build
// on a fresh pod sends no store layer. Each image answers from its
// extracted root filesystem.
func TestRegistryRelocated(t *testing.T) {
	r := startRegistryEnv(t)
	r.platformEnv = map[string]string{"BP_NIX_RELOCATE": "always"}
	hello, changed := helloAndChanged(t)

	a := r.build(t, "(a) hello-web relocated, cold", "hello-web", hello)
	r.serve(t, a, "Hello from hello-web, built by Nix\n")
	b := r.build(t, "(b) hello-web relocated, one-line change", "hello-web", changed)
	r.serve(t, b, "Hello again from hello-web, built by Nix\n")
	c := r.build(t, "(c) adr-attrs relocated, shares busybox", "adr-attrs", filepath.Join(testenv.RepoRoot(), "fixtures", "apps", "adr-attrs"))
	r.serve(t, c, "Hello from adr-attrs\n")
	d := r.build(t, "(d) hello-web relocated, unchanged, fresh pod", "hello-web", changed)
	r.serve(t, d, "Hello again from hello-web, built by Nix\n")
	t.Logf("what the registry received, per build:\n%s", table([]*step{a, b, c, d}))

	for _, s := range []*step{a, b, c, d} {
		n := 0
		for _, l := range s.names {
			if isStoreLayer(l.Name) {
				n++
				if got, _ := l.Metadata["relocated"].(string); got != "/tmp/.nixs" {
					t.Errorf("%s: layer %s records relocated=%q, want /tmp/.nixs", s.label, l.Name, got)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no store layers", s.label)
		}
	}
	own := b.storeLayer("-hello-web")
	for _, blob := range b.uploadedStore() {
		if blob != own {
			t.Errorf("(b) uploaded store layer %s, which did not change", b.names[blob].Name)
		}
	}
	shared := 0
	for blob, l := range c.names {
		if _, inA := a.names[blob]; !inA || !isStoreLayer(l.Name) {
			continue
		}
		shared++
		if c.stored[blob] {
			t.Errorf("(c) stored the shared relocated store layer %s again", l.Name)
		}
	}
	if shared == 0 {
		t.Errorf("(c) shares no relocated store layer with hello-web: %v", layerList(c))
	}
	if n := len(d.uploadedStore()); n > 0 || d.storeBytesStored() > 0 {
		t.Errorf("(d) uploaded %d store layers, stored %d store bytes; want none", n, d.storeBytesStored())
	}
}
