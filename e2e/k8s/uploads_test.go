package k8s_test

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/e2e/k8s"
	"github.com/nix-buildpack/nix-buildpack/e2e/registry"
)

// uploads is what a build sent to the cluster's registry (from its access
// log), each blob named by the lifecycle's labels of the image and its
// cache image, sized from the registry's storage.
type uploads struct {
	sent  registry.Traffic
	names map[string]registry.Layer
	sizes map[string]int64
}

func readUploads(t *testing.T, c *k8s.Cluster, image string, sent registry.Traffic) *uploads {
	t.Helper()
	u := &uploads{sent: sent, names: map[string]registry.Layer{}}
	repo, _, _ := strings.Cut(image, "@")
	for _, ref := range []string{image, repo + "-cache"} {
		p, err := c.Pull(ref)
		if err != nil {
			t.Fatal(err)
		}
		layers, err := p.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for d, l := range layers {
			u.names[d] = l
		}
	}
	var err error
	if u.sizes, err = c.Registry.Blobs(); err != nil {
		t.Fatal(err)
	}
	return u
}

func (u *uploads) bytes() int64 {
	var n int64
	for _, d := range u.sent.Uploaded {
		n += u.sizes[d]
	}
	return n
}

// String lists the blobs sent: "N blobs, B bytes: name size, ...".
func (u *uploads) String() string {
	var rows []string
	for _, d := range u.sent.Uploaded {
		rows = append(rows, fmt.Sprintf("%s %d", or(u.names[d].Name, "(image config)"), u.sizes[d]))
	}
	sort.Strings(rows)
	return fmt.Sprintf("%d blobs, %d bytes: %s", len(u.sent.Uploaded), u.bytes(), strings.Join(rows, ", "))
}

// storeLayer is the image's store layer holding the store path whose name
// ends in suffix; layer the layer with the lifecycle's name.
func (u *uploads) storeLayer(suffix string) string {
	for d, l := range u.names {
		if paths, _ := l.Metadata["paths"].(string); isStoreLayer(l.Name) && strings.HasSuffix(paths, suffix) {
			return d
		}
	}
	return ""
}

func (u *uploads) layer(name string) string {
	for d, l := range u.names {
		if l.Name == name {
			return d
		}
	}
	return ""
}

// checkChangeUploads checks what a build after a one-line change sent to
// the registry, as TestRegistryDaemonless does for the creator alone: the
// app's own store layer changed, and the app layer (the source, which CNB
// ships in every image: it holds the fixture's busybox copy); every other
// store layer is the previous image's, not sent again.
func checkChangeUploads(t *testing.T, c *k8s.Cluster, b *kpackBuild, sent registry.Traffic) {
	t.Helper()
	u := readUploads(t, c, b.image, sent)
	own, source := u.storeLayer("-hello-web"), u.layer("app")
	if own == "" || source == "" {
		t.Fatalf("%s: no store layer of hello-web (%q) or no app layer (%q) among %v", b.image, own, source, u.names)
	}
	sentOwn := false
	for _, d := range sent.Uploaded {
		sentOwn = sentOwn || d == own
		if isStoreLayer(u.names[d].Name) && d != own {
			t.Errorf("%s uploaded the store layer %s, which did not change", b.name, u.names[d].Name)
		}
	}
	if !sentOwn {
		t.Errorf("%s did not upload hello-web's changed store layer %s: the count proves nothing", b.name, own)
	}
	t.Logf("%s after a one-line change uploaded %s", b.name, u)
	if limit := u.sizes[own] + u.sizes[source] + 1<<20; u.bytes() > limit {
		t.Errorf("%s uploaded %d bytes; want at most the app's store layer (%d) + the app layer (%d) + 1 MiB",
			b.name, u.bytes(), u.sizes[own], u.sizes[source])
	}
}

// isStoreLayer says whether the lifecycle's layer name (<buildpack>:<layer>)
// is a launch layer of store paths: store-<...>, or a directory store
// path's own layer, named after it (<hash>-<name>).
func isStoreLayer(name string) bool {
	_, layer, _ := strings.Cut(name, ":")
	return strings.HasPrefix(layer, "store-") || storePathName.MatchString(layer)
}

var storePathName = regexp.MustCompile(`^[0-9a-df-np-sv-z]{32}-.`)
