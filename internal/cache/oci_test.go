package cache

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/nix-buildpack/nix-buildpack/internal/nar"
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// The OCI cache's tests run against a real registry (CNCF distribution,
// filesystem storage) on loopback.

// manifestOf reads the manifest a tag of repo names.
func manifestOf(t testing.TB, repo, tag string) *v1.Manifest {
	t.Helper()
	d, err := remote.Get(mustTag(t, repo+":"+tag))
	if err != nil {
		t.Fatal(err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(d.Manifest))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustTag(t testing.TB, ref string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

// mounts counts the registry's cross-repository mounts (POST ...?mount=
// answered 201) and blob uploads completed, from its access log.
func mounts(t testing.TB, r *testenv.Registry) (mounted, uploaded int) {
	t.Helper()
	data, err := os.ReadFile(r.Log)
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`"(POST|PUT) (\S+/blobs/uploads/\S*) HTTP/[0-9.]+" 201`)
	for _, m := range line.FindAllStringSubmatch(string(data), -1) {
		if strings.Contains(m[2], "mount=") {
			mounted++
		} else {
			uploaded++
		}
	}
	return mounted, uploaded
}

// TestOCIRoundTrip pushes the fixture closure, signed, to a repository
// and reads it back into an empty store with the trusted key: narinfos
// behind tags <hash>.narinfo, NARs as the blobs their manifests list (the
// narinfo's FileHash is the blob's digest), the source pointer behind its
// tag; ls and verify read it too.
func TestOCIRoundTrip(t *testing.T) {
	f := buildFixture(t)
	r := testenv.StartRegistry(t, "", "")
	sk, pub := keyPair(t, "oci-test-1")
	url := "oci://" + r.Host + "/team/app"

	res, err := openCache(t, url, Options{SecretKey: sk}).Push(ctx(t), f.infos(t), f.storeDir())
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploaded != len(f.closure) || len(res.Warnings) != 0 {
		t.Fatalf("push: %+v", res)
	}
	again, err := openCache(t, url, Options{SecretKey: sk}).Push(ctx(t), f.infos(t), f.storeDir())
	if err != nil || again.Uploaded != 0 || again.Skipped != len(f.closure) {
		t.Fatalf("second push: %+v, %v", again, err)
	}
	top := manifestOf(t, r.Host+"/team/app", narinfo.HashPart(f.top)+".narinfo")
	if string(top.Config.MediaType) != "application/vnd.nix-buildpack.narinfo.v1" || len(top.Layers) != 1 ||
		!strings.HasPrefix(string(top.Layers[0].MediaType), "application/vnd.nix-buildpack.nar.v1+zstd") {
		t.Fatalf("the top path's manifest: %+v", top)
	}

	root := emptyStore(t)
	fr, err := openCache(t, url, Options{TrustedKeys: []string{pub}}).Fetch(ctx(t), []string{f.top}, chrootStore(t, root))
	if err != nil {
		t.Fatal(err)
	}
	if len(fr.Installed) != len(f.closure) || len(fr.Warnings) != 0 {
		t.Fatalf("fetch: %+v", fr)
	}
	register(t, root, fr.Installed)
	checkStore(t, root, f, f.closure)
	compareTrees(t, f.storeDir(), root+"/nix/store", f.closure)

	c := openCache(t, url, Options{SecretKey: sk, TrustedKeys: []string{pub}})
	entries, err := c.List(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range entries {
		paths = append(paths, e.StorePath)
	}
	if !slices.Equal(paths, f.closure) {
		t.Fatalf("ls: %v, want %v", paths, f.closure)
	}
	if vr, err := c.Verify(ctx(t)); err != nil || vr.Checked != len(f.closure) || len(vr.Bad) != 0 {
		t.Fatalf("verify: %+v, %v", vr, err)
	}
	digest := strings.Repeat("ab", 32)
	if err := c.WritePointer(ctx(t), digest, f.top); err != nil {
		t.Fatal(err)
	}
	p, err := c.ReadPointer(ctx(t), digest)
	if err != nil || p == nil || p.Output != f.top {
		t.Fatalf("pointer: %+v, %v", p, err)
	}
	if p, err := c.ReadPointer(ctx(t), strings.Repeat("cd", 32)); err != nil || p != nil {
		t.Fatalf("a missing pointer: %+v, %v", p, err)
	}
}

// TestOCILayers stores the closure as image layers (PushOptions.AsLayer):
// each NAR blob is the gzip tar PackLayer makes, the manifest describes it
// as an OCI layer, and a fetch rebuilds and verifies each path from it.
func TestOCILayers(t *testing.T) {
	f := buildFixture(t)
	r := testenv.StartRegistry(t, "", "")
	url := "oci://" + r.Host + "/app"
	layer := func(sp string) (nar.Layer, bool) {
		return nar.Layer{Dir: "/layers/nix-buildpack_nix/store-" + narinfo.HashPart(sp), UID: 2000, GID: 2000}, true
	}
	res, err := openCache(t, url, Options{}).PushWith(ctx(t), f.infos(t), f.storeDir(), PushOptions{AsLayer: layer})
	if err != nil || res.Uploaded != len(f.closure) {
		t.Fatalf("push: %+v, %v", res, err)
	}
	for _, info := range f.infos(t) {
		m := manifestOf(t, r.Host+"/app", narinfo.HashPart(info.StorePath)+".narinfo")
		l, _ := layer(info.StorePath)
		packed, err := nar.PackLayer(f.storeDir()+"/"+info.StorePath[len("/nix/store/"):], info.NarSize, l)
		if err != nil {
			t.Fatal(err)
		}
		packed.Close()
		if m.Layers[0].MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" || m.Layers[0].Digest.Hex != hex.EncodeToString(packed.FileSHA256) {
			t.Fatalf("%s: layer %+v, want the OCI layer sha256:%x", info.StorePath, m.Layers[0], packed.FileSHA256)
		}
	}
	root := emptyStore(t)
	fr, err := openCache(t, url, Options{}).Fetch(ctx(t), []string{f.top}, chrootStore(t, root))
	if err != nil || len(fr.Installed) != len(f.closure) || len(fr.Warnings) != 0 {
		t.Fatalf("fetch: %+v, %v", fr, err)
	}
	register(t, root, fr.Installed)
	checkStore(t, root, f, f.closure)
}

// TestOCIMountsAcrossRepositories: app B's cache, given app A's as a read
// cache, restores A's paths and pushes them to its own repository without
// sending them: the registry mounts each blob from A's repository.
func TestOCIMountsAcrossRepositories(t *testing.T) {
	f := buildFixture(t)
	r := testenv.StartRegistry(t, "", "")
	a, b := "oci://"+r.Host+"/team/app-a", "oci://"+r.Host+"/team/app-b"
	if res, err := openCache(t, a, Options{}).Push(ctx(t), f.infos(t), f.storeDir()); err != nil || len(res.Failed) != 0 {
		t.Fatalf("push to A: %+v, %v", res, err)
	}
	_, uploadedA := mounts(t, r)
	root := emptyStore(t)
	fr, err := openCache(t, a, Options{}).Fetch(ctx(t), []string{f.top}, chrootStore(t, root))
	if err != nil || len(fr.Installed) != len(f.closure) {
		t.Fatalf("fetch from A: %+v, %v", fr, err)
	}
	res, err := openCache(t, b, Options{}).Push(ctx(t), f.infos(t), f.storeDir())
	if err != nil || res.Uploaded != len(f.closure) {
		t.Fatalf("push to B: %+v, %v", res, err)
	}
	mounted, uploaded := mounts(t, r)
	if mounted == 0 {
		logData, _ := os.ReadFile(r.Log)
		for _, l := range strings.Split(string(logData), "\n") {
			if strings.Contains(l, "app-b") && strings.Contains(l, "uploads") {
				t.Log(l)
			}
		}
	}
	if mounted != len(f.closure) || res.UploadedBytes != 0 {
		t.Fatalf("B: %d blobs mounted, %d NAR bytes sent; want the %d NARs mounted, none sent", mounted, res.UploadedBytes, len(f.closure))
	}
	// What B sent is its own narinfos (config blobs) and the empty blob.
	t.Logf("A: %d blob uploads; B: %d mounts, %d more uploads (narinfos, nix-cache-info)", uploadedA, mounted, uploaded-uploadedA)
	root = emptyStore(t)
	if fr, err := openCache(t, b, Options{}).Fetch(ctx(t), []string{f.top}, chrootStore(t, root)); err != nil || len(fr.Installed) != len(f.closure) {
		t.Fatalf("fetch from B: %+v, %v", fr, err)
	}
}

// TestOCITampered changes a NAR blob in the registry's storage, and a
// narinfo behind its tag (as someone with push rights could): the fetch
// refuses both paths (and what refers to them), installs nothing of them.
func TestOCITampered(t *testing.T) {
	f := buildFixture(t)
	r := testenv.StartRegistry(t, "", "")
	sk, pub := keyPair(t, "oci-test-1")
	url := "oci://" + r.Host + "/app"
	c := openCache(t, url, Options{SecretKey: sk})
	if res, err := c.Push(ctx(t), f.infos(t), f.storeDir()); err != nil || len(res.Failed) != 0 {
		t.Fatalf("push: %+v, %v", res, err)
	}
	data, bb := f.pathNamed(t, "data"), f.pathNamed(t, "bb")
	m := manifestOf(t, r.Host+"/app", narinfo.HashPart(data)+".narinfo")
	flipByte(t, r.BlobPath(m.Layers[0].Digest.String()), 0.5)
	key := narinfo.HashPart(bb) + ".narinfo"
	body, err := c.b.Get(ctx(t), key)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := readAllLimited(body, 1<<20)
	body.Close()
	e, err := narinfo.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	e.NarSize++ // unsigned now: the signature covers NarSize
	forged := e.String()
	if err := c.b.Put(ctx(t), key, strings.NewReader(forged), int64(len(forged)), "text/x-nix-narinfo"); err != nil {
		t.Fatal(err)
	}
	for _, keys := range [][]string{{pub}, nil} {
		t.Run(fmt.Sprintf("trusted keys %d", len(keys)), func(t *testing.T) {
			root := emptyStore(t)
			fr, err := openCache(t, url, Options{TrustedKeys: keys, RetryDelay: time.Millisecond}).Fetch(ctx(t), []string{f.top}, chrootStore(t, root))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(fr.Missing, data) || !slices.Contains(fr.Missing, bb) || !slices.Contains(fr.Missing, f.top) {
				t.Fatalf("fetch: %+v", fr)
			}
			var installed []string
			for _, i := range fr.Installed {
				installed = append(installed, i.StorePath)
			}
			assertStoreHolds(t, root+"/nix/store", fr, installed)
			t.Logf("warnings: %v", fr.Warnings)
		})
	}
}

// TestOCICredentials runs against a registry that wants a password: the
// binding's docker config and CNB_REGISTRY_AUTH work, a wrong password is
// refused with a warning saying what to check, and the password shows in
// no warning, error or log line.
func TestOCICredentials(t *testing.T) {
	f := buildFixture(t)
	const user, password = "nixbp", "reg-pass-Q3x8vJ2k"
	r := testenv.StartRegistry(t, user, password)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("CNB_REGISTRY_AUTH", "")
	url := "oci://" + r.Host + "/app"
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	good := &settings.Credentials{DockerConfig: fmt.Sprintf(`{"auths":{"http://%s":{"auth":%q}}}`, r.Host, auth)}
	if res, err := openCache(t, url, Options{Credentials: good}).Push(ctx(t), f.infos(t), f.storeDir()); err != nil || len(res.Failed) != 0 {
		t.Fatalf("push with the binding's docker config: %+v, %v", res, err)
	}
	t.Run("CNB_REGISTRY_AUTH", func(t *testing.T) {
		t.Setenv("CNB_REGISTRY_AUTH", fmt.Sprintf(`{%q: "Basic %s"}`, r.Host, auth))
		root := emptyStore(t)
		fr, err := openCache(t, url, Options{}).Fetch(ctx(t), []string{f.top}, chrootStore(t, root))
		if err != nil || len(fr.Installed) != len(f.closure) {
			t.Fatalf("fetch: %+v, %v", fr, err)
		}
	})
	const wrong = "wrong-pass-Zp4k"
	for name, creds := range map[string]*settings.Credentials{
		"wrong password": {DockerConfig: fmt.Sprintf(`{"auths":{%q:{"username":%q,"password":%q}}}`, r.Host, user, wrong)},
		"anonymous":      nil,
	} {
		t.Run(name, func(t *testing.T) {
			var log bytes.Buffer
			c, err := Open(ctx(t), url, Options{Credentials: creds, Log: &log, RetryDelay: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			root := emptyStore(t)
			fr, err := c.Fetch(ctx(t), f.closure, chrootStore(t, root))
			if err != nil {
				t.Fatal(err)
			}
			if len(fr.Warnings) != 1 || !strings.Contains(fr.Warnings[0], "access denied") || len(fr.Missing) != len(f.closure) {
				t.Fatalf("fetch: %+v", fr)
			}
			pr, err := c.Push(ctx(t), f.infos(t), f.storeDir())
			if err != nil || len(pr.Failed) != len(f.closure) {
				t.Fatalf("push: %+v, %v", pr, err)
			}
			_, lerr := c.List(ctx(t))
			all := strings.Join(append(append(fr.Warnings, pr.Warnings...), fmt.Sprint(lerr), log.String(), c.String(), fmt.Sprintf("%v %+v", creds, creds)), "\n")
			for _, secret := range []string{password, wrong, auth} {
				if strings.Contains(all, secret) {
					t.Fatalf("a credential shows in:\n%s", all)
				}
			}
			t.Logf("what a user sees:\n%s", fr.Warnings[0])
		})
	}
}
