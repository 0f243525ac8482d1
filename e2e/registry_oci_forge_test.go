package e2e_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/nix-community/go-nix/pkg/nixbase32"
)

// forgedMarker is the content of the forged runtime's busybox.
const forgedMarker = "forged-by-the-e2e-test-7d1c"

// forgeBlob tampers with a cache repository as someone with push rights
// could: the shared runtime's narinfo, its signature kept and still valid
// (it covers the path, NAR hash, size and references, not where the file
// is), now points at a forged layer.
func forgeBlob(t *testing.T, r *registryEnv, repo string, a *step) {
	t.Helper()
	repoRef, opt, tag := runtimeTag(t, r, repo, a)
	forged := forgedLayer(t, runtimeName(t, a))
	layer := static.NewLayer(forged, types.OCILayer)
	if err := remote.WriteLayer(repoRef, layer, opt); err != nil {
		t.Fatal(err)
	}
	d, err := layer.Digest()
	if err != nil {
		t.Fatal(err)
	}
	sum, err := hex.DecodeString(d.Hex)
	if err != nil {
		t.Fatal(err)
	}
	b32 := nixbase32.EncodeToString(sum)
	text := readNarinfo(t, repoRef, tag, opt)
	text = replaceField(text, "URL", "nar/"+b32+".tar.gz")
	text = replaceField(text, "Compression", "oci-layer+gzip")
	text = replaceField(text, "FileHash", "sha256:"+b32)
	text = replaceField(text, "FileSize", itoa(len(forged)))
	putNarinfo(t, repoRef, tag, text, v1.Descriptor{MediaType: types.OCILayer, Digest: d, Size: int64(len(forged))}, opt)
}

// forgeNarinfo restores the runtime's narinfo to its true layer but with
// another NAR hash: its signature no longer matches.
func forgeNarinfo(t *testing.T, r *registryEnv, repo string, a *step, text string, layer v1.Descriptor) {
	t.Helper()
	repoRef, opt, tag := runtimeTag(t, r, repo, a)
	m := regexp.MustCompile(`NarHash: sha256:([0-9a-z]+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("the runtime's narinfo has no NarHash:\n%s", text)
	}
	other := "0" + m[1][1:]
	if other == m[1] {
		other = "1" + m[1][1:]
	}
	putNarinfo(t, repoRef, tag, strings.Replace(text, m[1], other, 1), layer, opt)
}

// runtimeEntry is the runtime's narinfo text and NAR layer in repo.
func runtimeEntry(t *testing.T, r *registryEnv, repo string, a *step) (string, v1.Descriptor) {
	t.Helper()
	repoRef, opt, tag := runtimeTag(t, r, repo, a)
	return readNarinfo(t, repoRef, tag, opt), manifestOfTag(t, repoRef, tag, opt).Layers[0]
}

func runtimeTag(t *testing.T, r *registryEnv, repo string, a *step) (name.Repository, remote.Option, string) {
	t.Helper()
	repoRef, err := name.NewRepository(r.reg.Host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	opt := remote.WithAuthFromKeychain(authn.DefaultKeychain)
	tags := narinfoTags(t, repoRef, opt)
	tag := tags[runtimeName(t, a)]
	if tag == "" {
		t.Fatalf("the cache %s lacks the runtime's narinfo: %v", repo, tags)
	}
	return repoRef, opt, tag
}

// narinfoTags maps store path names to their narinfo tags in repo.
func narinfoTags(t *testing.T, repo name.Repository, opt remote.Option) map[string]string {
	t.Helper()
	tags, err := remote.List(repo, opt)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, tag := range tags {
		if !strings.HasSuffix(tag, ".narinfo") {
			continue
		}
		text := readNarinfo(t, repo, tag, opt)
		if m := regexp.MustCompile(`StorePath: /nix/store/(\S+)`).FindStringSubmatch(text); m != nil {
			out[m[1]] = tag
		}
	}
	return out
}

func manifestOfTag(t *testing.T, repo name.Repository, tag string, opt remote.Option) *v1.Manifest {
	t.Helper()
	desc, err := remote.Get(repo.Tag(tag), opt)
	if err != nil {
		t.Fatal(err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readNarinfo(t *testing.T, repo name.Repository, tag string, opt remote.Option) string {
	t.Helper()
	m := manifestOfTag(t, repo, tag, opt)
	l, err := remote.Layer(repo.Digest(m.Config.Digest.String()), opt)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// putNarinfo tags a manifest of the cache's shape: the narinfo text as
// config, nar as its one layer.
func putNarinfo(t *testing.T, repo name.Repository, tag, text string, nar v1.Descriptor, opt remote.Option) {
	t.Helper()
	const narinfoType = "application/vnd.nix-buildpack.narinfo.v1"
	config := static.NewLayer([]byte(text), narinfoType)
	if err := remote.WriteLayer(repo, config, opt); err != nil {
		t.Fatal(err)
	}
	cd, _ := config.Digest()
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: v1.Descriptor{MediaType: narinfoType, Digest: cd, Size: int64(len(text))}, Layers: []v1.Descriptor{nar}}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(repo.Tag(tag), rawManifest(raw), opt); err != nil {
		t.Fatal(err)
	}
}

type rawManifest []byte

func (m rawManifest) RawManifest() ([]byte, error)        { return m, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

// forgedLayer is a layer holding a store path named name whose busybox is
// a script printing forgedMarker.
func forgedLayer(t *testing.T, storeName string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	root := "layers/nix-buildpack_nix/store-" + storeName[:32] + "/store/" + storeName
	for _, h := range []tar.Header{{Typeflag: tar.TypeDir, Name: "layers", Mode: 0o755}, {Typeflag: tar.TypeDir, Name: root, Mode: 0o555},
		{Typeflag: tar.TypeDir, Name: root + "/bin", Mode: 0o555}} {
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
	}
	script := "#!/bin/sh\necho " + forgedMarker + "\n"
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: root + "/bin/busybox", Mode: 0o555, Size: int64(len(script))}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(script))
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func replaceField(text, field, value string) string {
	return regexp.MustCompile(`(?m)^`+field+`: .*$`).ReplaceAllString(text, field+": "+value)
}
