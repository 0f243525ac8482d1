package e2e_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/e2e/s3server"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// TestRegistryOCICache builds through the lifecycle's creator, as kpack
// does (fresh pod per build), against a registry that wants a password
// (htpasswd), with BP_NIX_CACHE=oci://<the image's own repository>:
//
//	(a) shared-a, cold: the cache pushes each runtime store path as the very
//	    layer blob the exporter then makes of it, so the exporter sends no
//	    store layer (the registry counts each store blob once);
//	(b) shared-b on a fresh pod, its closure mostly shared-a's runtime, with
//	    shared-a's repository as a read cache: the runtime is restored (no
//	    Nix build of it), pushed to shared-b's repository by mounting (no
//	    bytes), and the exporter sends no shared store layer;
//	(c) shared-a's entries tampered (the runtime's narinfo pointed at a
//	    forged layer, bb's narinfo changed): refused, the runtime built
//	    again, the image holds the runtime's true layer;
//	(d) the registry password and the signing key appear in no log and no blob.
//
// The same two builds with today's S3 cache (versitygw, one bucket shared by
// both apps) give the bytes the table compares.
func TestRegistryOCICache(t *testing.T) {
	const user, password = "nixbp", "oci-e2e-pass-Jq27Xv"
	r := startRegistryEnvAuth(t, user, password)
	sk, pub := signingKey(t, "oci-e2e-1")
	host := r.reg.Host
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	r.bindings = map[string]map[string]string{"nix-cache-oci": {"type": "nix-cache", "secret-key": sk,
		"config.json": `{"auths":{"` + host + `":{"auth":"` + basic + `"}}}`}}
	apps := filepath.Join(testenv.RepoRoot(), "fixtures", "apps")
	ociEnv := func(repo string, read ...string) map[string]string {
		env := map[string]string{"BP_NIX_CACHE": "oci://" + host + "/" + repo, "BP_NIX_TRUSTED_PUBLIC_KEYS": pub, "BP_NIX_CACHES": ""}
		for _, rd := range read {
			env["BP_NIX_CACHES"] = strings.TrimSpace(env["BP_NIX_CACHES"] + " oci://" + host + "/" + rd)
		}
		return env
	}

	r.platformEnv = ociEnv("apps/shared-a")
	a := r.build(t, "(a) shared-a, cold, oci://<its repository>", "apps/shared-a", filepath.Join(apps, "shared-a"))
	r.serve(t, a, "Hello from shared-a, on "+runtimeName(t, a)+"\n")
	checkNoStoreLayerSentTwice(t, a)
	runtimeLayer := a.storeLayer("-shared-runtime")
	if runtimeLayer == "" || !slices.Contains(a.traffic.ByCache, runtimeLayer) {
		t.Fatalf("(a) the runtime's store layer %s was not pushed by the cache: cache sent %v", runtimeLayer, a.traffic.ByCache)
	}

	r.platformEnv = ociEnv("apps/shared-b", "apps/shared-a")
	b := r.build(t, "(b) shared-b, fresh pod, shared-a's repository read", "apps/shared-b", filepath.Join(apps, "shared-b"))
	r.serve(t, b, "Hello from shared-b, on "+runtimeName(t, a)+"\n")
	checkNoStoreLayerSentTwice(t, b)
	if built := nixBuilt(b.log); !slices.Equal(built, []string{"shared-b"}) {
		t.Errorf("(b) Nix built %v; want only shared-b (the runtime restored from shared-a's cache)\n%s", built, b.log)
	}
	if b.storeLayer("-shared-runtime") != runtimeLayer {
		t.Errorf("(b) the runtime's layer is not shared-a's blob")
	}
	for _, d := range b.traffic.Uploaded {
		if d == runtimeLayer {
			t.Errorf("(b) sent the shared runtime's blob; it is in shared-a's repository, to be mounted")
		}
	}
	if b.traffic.Mounted == 0 {
		t.Errorf("(b) mounted nothing from shared-a's repository")
	}
	if own := b.storeLayer("-shared-b"); !slices.Contains(b.traffic.ByCache, own) {
		t.Errorf("(b) the cache did not push shared-b's own path as its layer")
	}

	text, layer := runtimeEntry(t, r, "apps/shared-a", a)
	forgeBlob(t, r, "apps/shared-a", a)
	r.platformEnv = ociEnv("apps/shared-c", "apps/shared-a")
	c := r.build(t, "(c) shared-b, fresh pod, the runtime's blob forged", "apps/shared-c", filepath.Join(apps, "shared-b"))
	checkRebuilt(t, r, c, a, runtimeLayer, `-shared-runtime: .*NAR (size|hash) mismatch`)
	forgeNarinfo(t, r, "apps/shared-a", a, text, layer)
	r.platformEnv = ociEnv("apps/shared-d", "apps/shared-a")
	c2 := r.build(t, "(c') shared-b, fresh pod, the runtime's narinfo forged", "apps/shared-d", filepath.Join(apps, "shared-b"))
	checkRebuilt(t, r, c2, a, runtimeLayer, `-shared-runtime: .*not signed by any trusted key`)

	steps := []*step{a, b, c, c2}
	for _, secret := range []string{password, basic, strings.SplitN(sk, ":", 2)[1]} {
		for _, s := range steps {
			if strings.Contains(s.log, secret) {
				t.Errorf("%s: a secret is in the build log", s.label)
			}
		}
		if found, err := r.reg.BlobsContaining(secret); err != nil || len(found) > 0 {
			t.Errorf("a secret is in the registry's blobs %v (%v)", found, err)
		}
	}

	s3 := s3Comparison(t, apps)
	for _, s := range append(steps, s3...) {
		t.Logf("%s sent: %s", s.label, strings.Join(uploads(s), ", "))
	}
	t.Logf("what each build sent (registry, and the S3 server for the S3 cache):\n%s", bytesTable(append(steps[:2], s3...)))
}

// checkRebuilt: the build refused the runtime from the cache (the log says
// why), built it, and its image holds the runtime's true layer and answers.
func checkRebuilt(t *testing.T, r *registryEnv, s, a *step, runtimeLayer, why string) {
	t.Helper()
	r.serve(t, s, "Hello from shared-b, on "+runtimeName(t, a)+"\n")
	if built := nixBuilt(s.log); !slices.Contains(built, "shared-runtime") {
		t.Errorf("%s: Nix built %v; the refused runtime must be built here\n%s", s.label, built, s.log)
	}
	if !regexp.MustCompile(why).MatchString(s.log) {
		t.Errorf("%s: the build log does not say %q:\n%s", s.label, why, s.log)
	}
	if got := s.storeLayer("-shared-runtime"); got != runtimeLayer {
		t.Errorf("%s: the runtime's layer is %s, not the true one %s", s.label, got, runtimeLayer)
	}
	if found, _ := s.pulled.Contains(forgedMarker); len(found) > 0 {
		t.Errorf("%s: the image holds the forged layer's content in %v", s.label, found)
	}
}

// signingKey makes a Nix signing key pair (name:base64), as
// nix-store --generate-binary-cache-key does.
func signingKey(t *testing.T, name string) (secret, public string) {
	t.Helper()
	pk, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return name + ":" + base64.StdEncoding.EncodeToString(sk), name + ":" + base64.StdEncoding.EncodeToString(pk)
}

// runtimeName is the shared runtime's store path name in the step's image.
func runtimeName(t *testing.T, s *step) string {
	t.Helper()
	for _, l := range s.names {
		if p, _ := l.Metadata["paths"].(string); strings.HasSuffix(p, "-shared-runtime") {
			return p
		}
	}
	t.Fatalf("%s: no store layer holds the shared runtime: %v", s.label, layerList(s))
	return ""
}

// checkNoStoreLayerSentTwice: every store layer of a single store path is
// a blob the cache pushed (or found, or mounted), never one the exporter
// sent.
func checkNoStoreLayerSentTwice(t *testing.T, s *step) {
	t.Helper()
	byCache := map[string]bool{}
	for _, d := range s.traffic.ByCache {
		byCache[d] = true
	}
	for _, d := range s.traffic.Uploaded {
		if l := s.names[d]; isStoreLayer(l.Name) && !byCache[d] {
			t.Errorf("%s: the exporter sent the store layer %s (%s) the cache should have pushed as that blob", s.label, l.Name, mb(s.sizes[d]))
		}
	}
}

var building = regexp.MustCompile(`building '/nix/store/[0-9a-z]{32}-([^']+)\.drv'`)

// nixBuilt lists the derivations Nix built, by name.
func nixBuilt(log string) []string {
	var out []string
	for _, m := range building.FindAllStringSubmatch(log, -1) {
		out = append(out, m[1])
	}
	slices.Sort(out)
	return out
}

// uploads lists what a build sent the registry: layer name (or "cache"
// for the cache's own blobs: narinfos, NARs of build-time paths) and size.
func uploads(s *step) []string {
	cache := map[string]bool{}
	for _, d := range s.traffic.ByCache {
		cache[d] = true
	}
	var out []string
	for _, d := range s.traffic.Uploaded {
		n := s.names[d].Name
		if n == "" {
			n = "(not a layer)"
		}
		if cache[d] {
			n = "cache: " + n
		}
		out = append(out, fmt.Sprintf("%s %s", n, mb(s.sizes[d])))
	}
	slices.Sort(out)
	return out
}

// fetched is the cache's line saying what a restore downloaded.
var fetched = regexp.MustCompile(`Fetched (\d+) store paths \(([0-9.]+) MiB,`)

// bytesTable is docs/oci-cache.md's table.
func bytesTable(steps []*step) string {
	var b strings.Builder
	b.WriteString("| build | sent to the registry | of which by the cache | store layers sent by the exporter | blobs mounted | sent to S3 | total sent | new bytes stored | restored from the cache | Nix builds | time |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|\n")
	for _, s := range steps {
		var byCache, exporterStore int64
		cache := map[string]bool{}
		for _, d := range s.traffic.ByCache {
			byCache += s.sizes[d]
			cache[d] = true
		}
		for _, d := range s.traffic.Uploaded {
			if isStoreLayer(s.names[d].Name) && !cache[d] {
				exporterStore += s.sizes[d]
			}
		}
		var stored int64
		for d := range s.stored {
			stored += s.sizes[d]
		}
		paths, mib := 0, 0.0
		for _, m := range fetched.FindAllStringSubmatch(s.log, -1) {
			n, _ := strconv.Atoi(m[1])
			x, _ := strconv.ParseFloat(m[2], 64)
			paths, mib = paths+n, mib+x
		}
		restored := fmt.Sprintf("%d paths, %.2f MiB", paths, mib)
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %s | %s | %s | %s | %s | %s |\n", s.label, mb(s.uploadedBytes()), mb(byCache), mb(exporterStore),
			s.traffic.Mounted, mb(s.s3Bytes), mb(s.uploadedBytes()+s.s3Bytes), mb(stored+s.s3Bytes), restored, strings.Join(nixBuilt(s.log), " "), s.elapsed.Round(100e6))
	}
	return b.String()
}

// s3Comparison builds shared-a then shared-b on fresh pods with today's S3
// cache (one bucket prefix for both apps, as a fleet shares it), on a
// registry of their own, and counts what the registry and the S3 server
// received.
func s3Comparison(t *testing.T, apps string) []*step {
	t.Helper()
	r := startRegistryEnv(t)
	s3, err := s3server.Start(testenv.Require(t, "versitygw"), t.TempDir(), "nixcache")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s3.Stop)
	r.platformEnv = map[string]string{"BP_NIX_CACHE": "s3://nixcache/apps?region=us-east-1&endpoint=" + s3.Endpoint}
	r.bindings = map[string]map[string]string{"nix-cache-s3": {"type": "nix-cache", "access-key-id": s3.Access, "secret-access-key": s3.Secret}}
	var steps []*step
	for _, app := range []string{"shared-a", "shared-b"} {
		before := dirBytes(t, s3.Dir)
		s := r.build(t, "S3: "+app+", fresh pod", "apps/"+app, filepath.Join(apps, app))
		s.s3Bytes = dirBytes(t, s3.Dir) - before
		steps = append(steps, s)
	}
	return steps
}

// dirBytes is the size of the regular files under dir (versitygw's posix
// backend keeps each object as a file).
func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
