package e2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestRegistryDaemonless builds images as kpack and Tekton's buildpacks task
// do: the lifecycle's creator in a fresh "pod" (new workspace, empty layers
// directory) per build, no Docker daemon, the run image pulled from and the
// app and cache images pushed to a real registry on loopback. What each
// build sent is counted at the registry, from its access log and storage:
//
//	(a) a cold build of hello-web;
//	(b) hello-web after a one-line change: its own store layer and the small layers;
//	(c) adr-attrs, which shares busybox and the launcher: no shared store blob stored again;
//	(c') the same as a tag of hello-web's repository: no shared blob sent;
//	(d) hello-web unchanged on a fresh pod: launch layers reused from the previous
//	    image without their contents, no Nix installed, no NAR, no store bytes.
func TestRegistryDaemonless(t *testing.T) {
	r := startRegistryEnv(t)
	hello, changed := helloAndChanged(t)

	a := r.build(t, "(a) hello-web, cold", "hello-web", hello)
	r.serve(t, a, "Hello from hello-web, built by Nix\n")
	b := r.build(t, "(b) hello-web, one-line change", "hello-web", changed)
	r.serve(t, b, "Hello again from hello-web, built by Nix\n")
	adr := filepath.Join(testenv.RepoRoot(), "fixtures", "apps", "adr-attrs")
	c := r.build(t, "(c) adr-attrs, shares busybox", "adr-attrs", adr)
	r.serve(t, c, "Hello from adr-attrs\n")
	c2 := r.build(t, "(c') adr-attrs as a tag of hello-web's repository", "hello-web:adr-attrs", adr)
	d := r.build(t, "(d) hello-web unchanged, fresh pod", "hello-web", changed)
	r.serve(t, d, "Hello again from hello-web, built by Nix\n")

	steps := []*step{a, b, c, c2, d}
	t.Logf("what the registry received, per build (fresh pod each, cache image and previous image in the registry):\n%s", table(steps))

	// (b): the app's own store layer changed; every other store layer is
	// the previous image's. The app layer (/workspace, the source, which
	// CNB ships in every image) changed with the source: it holds the
	// fixture's 1.1 MB busybox copy, so it is counted apart.
	own := b.storeLayer("-hello-web")
	if own == "" {
		t.Fatalf("(b) image has no store layer for hello-web: %v", layerList(b))
	}
	source := b.layerNamed("app")
	if limit := b.sizes[own] + b.sizes[source] + 1<<20; b.uploadedBytes() > limit {
		t.Errorf("(b) uploaded %d bytes; want at most the app's store layer (%d) + the source layer (%d) + 1 MiB",
			b.uploadedBytes(), b.sizes[own], b.sizes[source])
	}
	for _, blob := range b.uploadedStore() {
		if blob != own {
			t.Errorf("(b) uploaded store layer %s, which did not change", b.names[blob].Name)
		}
	}
	// (c): the store layers adr-attrs shares with hello-web (busybox) are
	// not stored again. The lifecycle (go-containerregistry) still sends a
	// blob the registry has under another repository: only a blob of the
	// same repository, or a mountable one (the run image's), is skipped.
	shared, resent := 0, 0
	for blob, l := range c.names {
		if !strings.Contains(l.Name, ":store-") {
			continue
		}
		_, inA := a.names[blob]
		_, inB := b.names[blob]
		if !inA && !inB {
			continue
		}
		shared++
		if c.stored[blob] {
			t.Errorf("(c) stored the shared store layer %s again", l.Name)
		}
		for _, d := range c.traffic.Uploaded {
			if d == blob {
				resent++
			}
		}
	}
	if shared == 0 {
		t.Errorf("(c) shares no store layer with hello-web, so the test proves nothing: %v", layerList(c))
	}
	t.Logf("(c) %d shared store layers: none stored again, %d sent again to the new repository", shared, resent)
	// (c'): in the repository that has them, shared blobs are not sent.
	for _, blob := range c2.traffic.Uploaded {
		_, inA := a.names[blob]
		_, inB := b.names[blob]
		if inA || inB {
			t.Errorf("(c') sent %s, which hello-web's repository already holds", c2.names[blob].Name)
		}
	}
	// (d): nothing of the store moved, Nix was neither installed nor run.
	if n := len(d.uploadedStore()); n > 0 || d.storeBytesStored() > 0 {
		t.Errorf("(d) uploaded %d store layers, stored %d store bytes; want none", n, d.storeBytesStored())
	}
	for _, not := range []string{"Installed Nix", "Reusing Nix", "Fetching Nix", "with nix-build", "Restored "} {
		if strings.Contains(d.log, not) {
			t.Errorf("(d) build log has %q; an unchanged rebuild must not touch Nix:\n%s", not, d.log)
		}
	}
	// A setting that shapes the layers changed: the same source goes
	// through the pipeline again (restored from the cache), not reused.
	r.platformEnv = map[string]string{"BP_NIX_PRUNE_EMPTY_DIRS": "true"}
	e := r.build(t, "(e) hello-web unchanged, a pruning setting changed", "hello-web", changed)
	if strings.Contains(e.log, "Reusing the previous image's launch layers") || !strings.Contains(e.log, "Copied ") {
		t.Errorf("(e) reused the previous image although BP_NIX_PRUNE_EMPTY_DIRS changed:\n%s", e.log)
	}
	r.serve(t, e, "Hello again from hello-web, built by Nix\n")
	for _, want := range []string{"Reusing the previous image's launch layers", "Reusing layer 'nix-buildpack/nix:store-",
		"Reusing layer 'nix-buildpack/nix:view'", "Reusing layer 'buildpacksio/lifecycle:launch.sbom'"} {
		if !strings.Contains(d.log, want) {
			t.Errorf("(d) creator log lacks %q:\n%s", want, d.log)
		}
	}
}

// helloAndChanged are hello-web and a copy of it with a one-line change.
func helloAndChanged(t *testing.T) (string, string) {
	hello := filepath.Join(testenv.RepoRoot(), "fixtures", "apps", "hello-web")
	changed := openTempDir(t)
	if err := os.CopyFS(changed, os.DirFS(hello)); err != nil {
		t.Fatal(err)
	}
	nixFile := filepath.Join(changed, "hop3.nix")
	src, err := os.ReadFile(nixFile)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(src), "Hello from hello-web, built by Nix", "Hello again from hello-web, built by Nix", 1)
	if edited == string(src) {
		t.Fatal("the one-line change did not apply to hello-web/hop3.nix")
	}
	if err := os.WriteFile(nixFile, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	return hello, changed
}
