package e2e_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e"
	"github.com/nix-buildpack/nix-buildpack/e2e/registry"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// registryEnv is a registry on loopback with a busybox run image in it,
// and a read-write binary cache (file://) shared by every build.
type registryEnv struct {
	env
	reg      *registry.Registry
	runImage string
	cacheDir string
	// platformEnv and bindings are the platform's for every build:
	// BP_NIX_CACHE is the file:// cache unless platformEnv sets it ("" unsets).
	platformEnv map[string]string
	bindings    map[string]map[string]string
	// platformAPI is the creator's platform API ("": e2e.PlatformAPI).
	platformAPI string
	// registryAuth is the creator's CNB_REGISTRY_AUTH ("": none).
	registryAuth string
}

func startRegistryEnv(t *testing.T) *registryEnv {
	t.Helper()
	return startRegistryEnvAuth(t, "", "")
}

// startRegistryEnvAuth is startRegistryEnv with a registry that lets in
// only user and password (htpasswd): the creator gets them as
// CNB_REGISTRY_AUTH, the test's own pushes and pulls from a docker config
// (DOCKER_CONFIG).
func startRegistryEnvAuth(t *testing.T, user, password string) *registryEnv {
	t.Helper()
	en := registrySetup(t)
	bin := testenv.Require(t, "registry")
	testenv.Require(t, "bwrap")
	reg, err := registry.StartRegistryAuth(bin, t.TempDir(), user, password)
	if err != nil {
		t.Fatal(err)
	}
	auth := ""
	if user != "" {
		basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
		docker := t.TempDir()
		if err := os.WriteFile(filepath.Join(docker, "config.json"), []byte(`{"auths":{"`+reg.Host+`":{"auth":"`+basic+`"}}}`), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("DOCKER_CONFIG", docker)
		auth = `{"` + reg.Host + `":"Basic ` + basic + `"}`
	}
	t.Cleanup(reg.Stop)
	r := &registryEnv{env: en, reg: reg, runImage: reg.Host + "/run:busybox", cacheDir: filepath.Join(openTempDir(t), "nixcache"), registryAuth: auth}
	if _, err := registry.PushRunImage(r.runImage, en.busybox); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(r.cacheDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(r.cacheDir, uid, gid); err != nil {
		t.Fatal(err)
	}
	return r
}

// registrySetup is setup, except that NIXBP_E2E_BUILDPACK names a
// buildpack directory already made by scripts/package.sh, to skip packaging
// in a development loop (packaging takes minutes on a loaded machine).
func registrySetup(t *testing.T) env {
	t.Helper()
	bp := os.Getenv("NIXBP_E2E_BUILDPACK")
	if bp == "" {
		return setup(t)
	}
	tarball, err := e2e.Readable(testenv.NixTarball(t), openTempDir(t))
	if err != nil {
		t.Fatal(err)
	}
	return env{lifecycle: filepath.Join(testenv.ToolsDir(), "lifecycle-0.21.14"), buildpack: bp, tarball: tarball, busybox: "/bin/busybox"}
}

// step is one build and what the registry received during it.
type step struct {
	label, image string
	log          string
	elapsed      time.Duration
	traffic      registry.Traffic
	// stored are blobs new in the registry's storage; sizes are every
	// stored blob's size.
	stored map[string]bool
	sizes  map[string]int64
	// names are the app image's and the cache image's layers.
	names  map[string]registry.Layer
	pulled *registry.Pulled
	// s3Bytes is what an S3 cache stored during the build (0 without one).
	s3Bytes int64
}

// build runs the creator for the app source src in a fresh workspace, as
// a new pod would, exporting to <registry>/<ref> (repository[:tag], tag
// latest by default) with the cache image <registry>/<repository>-cache:<tag>
// and the previous image the same reference.
func (r *registryEnv) build(t *testing.T, label, ref, src string) *step {
	t.Helper()
	env := map[string]string{"BP_NIX_CACHE": "file://" + r.cacheDir}
	for k, v := range r.platformEnv {
		env[k] = v
		if v == "" {
			delete(env, k)
		}
	}
	w, err := e2e.NewWorkspace(openTempDir(t), r.lifecycle, e2e.Options{AppSource: src, Buildpack: r.buildpack,
		NixTarball: r.tarball, Busybox: r.busybox, Env: e2e.Offline(env), Bindings: r.bindings, UID: uid, GID: gid})
	if err != nil {
		t.Fatal(err)
	}
	repo, tag, ok := strings.Cut(ref, ":")
	if !ok {
		tag = "latest"
	}
	s := &step{label: label, image: r.reg.Host + "/" + repo + ":" + tag}
	cacheImage := r.reg.Host + "/" + repo + "-cache:" + tag
	before, err := r.reg.Blobs()
	if err != nil {
		t.Fatal(err)
	}
	from, err := r.reg.Traffic(0)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s.log, err = w.Create(e2e.Export{Image: s.image, RunImage: r.runImage, CacheImage: cacheImage,
		PreviousImage: s.image, InsecureRegistry: r.reg.Host, PlatformAPI: r.platformAPI, RegistryAuth: r.registryAuth})
	s.elapsed = time.Since(start)
	if err != nil {
		t.Fatalf("%s: %v\n%s", label, err, s.log)
	}
	if s.traffic, err = r.reg.Traffic(from.Lines); err != nil {
		t.Fatal(err)
	}
	if s.sizes, err = r.reg.Blobs(); err != nil {
		t.Fatal(err)
	}
	s.stored = map[string]bool{}
	for d := range s.sizes {
		if _, ok := before[d]; !ok {
			s.stored[d] = true
		}
	}
	s.names = map[string]registry.Layer{}
	for _, image := range []string{s.image, cacheImage} {
		p, err := registry.Pull(image)
		if err != nil {
			t.Fatal(err)
		}
		layers, err := p.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for d, l := range layers {
			s.names[d] = l
		}
		if image == s.image {
			s.pulled = p
		}
	}
	_ = os.RemoveAll(w.Root)
	return s
}

// isStore says whether a layer holds store paths: a store layer, or the
// nix cache layer (Nix and the build's store).
func isStore(name string) bool {
	return isStoreLayer(name) || strings.HasSuffix(name, ":nix")
}

// isStoreLayer says whether the lifecycle's layer name (<buildpack>:<layer>)
// is a launch layer of store paths: store-<...> (a group, or a path that is
// not a directory), or a directory store path's own layer, named after it
// (<hash>-<name>).
func isStoreLayer(name string) bool {
	_, layer, _ := strings.Cut(name, ":")
	return strings.HasPrefix(layer, "store-") || storePathName.MatchString(layer)
}

// storePathName is a store path's base name: 32 nixbase32 characters, a dash.
var storePathName = regexp.MustCompile(`^[0-9a-df-np-sv-z]{32}-.`)

// storeLayer is the image's store layer holding the store path whose name
// ends in suffix.
func (s *step) storeLayer(suffix string) string {
	for d, l := range s.names {
		if paths, _ := l.Metadata["paths"].(string); isStoreLayer(l.Name) && strings.HasSuffix(paths, suffix) {
			return d
		}
	}
	return ""
}

// layerNamed is the image's layer blob with the lifecycle's name.
func (s *step) layerNamed(name string) string {
	for d, l := range s.names {
		if l.Name == name {
			return d
		}
	}
	return ""
}

func (s *step) uploadedBytes() int64 {
	var n int64
	for _, d := range s.traffic.Uploaded {
		n += s.sizes[d]
	}
	return n
}

func (s *step) uploadedStore() []string {
	var out []string
	for _, d := range s.traffic.Uploaded {
		if isStore(s.names[d].Name) {
			out = append(out, d)
		}
	}
	return out
}

func (s *step) storeBytesStored() int64 {
	var n int64
	for d := range s.stored {
		if isStore(s.names[d].Name) {
			n += s.sizes[d]
		}
	}
	return n
}

// serve pulls the step's image, extracts it and runs its default process
// (web) over the extracted root filesystem; it must answer want.
func (r *registryEnv) serve(t *testing.T, s *step, want string) {
	t.Helper()
	root := t.TempDir()
	if err := s.pulled.Extract(root); err != nil {
		t.Fatal(err)
	}
	port, err := e2e.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	cmd, err := e2e.RunImage(root, s.pulled, map[string]string{"PORT": itoa(port), "BIND_ADDRESS": "127.0.0.1"}, &log)
	if err != nil {
		t.Fatal(err)
	}
	status, body, err := e2e.Get("http://127.0.0.1:"+itoa(port)+"/", 10*time.Second)
	_, _ = e2e.Stop(cmd)
	if err != nil || status != 200 || body != want {
		t.Fatalf("%s: GET / on the pulled image = %d %q, %v; want 200 %q\nprocess log:\n%s", s.label, status, body, err, want, log.String())
	}
	t.Logf("%s: the pulled image answered %q", s.label, body)
	_ = os.RemoveAll(root)
}
