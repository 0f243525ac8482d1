package e2e_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nix-buildpack/nix-buildpack/e2e/registry"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// ociDescriptor, ociIndex and ociManifest are the parts of the OCI image
// index, manifest and config the test reads.
type ociDescriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Platform  *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform"`
}

type ociIndex struct {
	MediaType string          `json:"mediaType"`
	Manifests []ociDescriptor `json:"manifests"`
}

type ociManifest struct {
	Config ociDescriptor   `json:"config"`
	Layers []ociDescriptor `json:"layers"`
}

// TestMultiArchPackage packages the buildpack for linux/amd64 and
// linux/arm64 and checks what a builder gets: published to a real OCI
// registry (scripts/package.sh --publish), one image index naming both
// platforms, each manifest's config saying its architecture and its layer
// holding that architecture's programs; and the two .cnb files (pack
// v0.40.9 writes one per target with --format file) each holding its own.
func TestMultiArchPackage(t *testing.T) {
	testenv.Require(t, "pack")
	reg, err := registry.StartRegistry(testenv.Require(t, "registry"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Stop()
	out := filepath.Join(openTempDir(t), "out")
	ref := reg.Host + "/nix-buildpack:0.1.0"
	cmd := exec.Command(filepath.Join(testenv.RepoRoot(), "scripts", "package.sh"),
		"--nix-tarball", testenv.NixTarball(t), "--publish", ref, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/package.sh --publish %s: %v\n%s", ref, err, b)
	}

	fromRegistry := func(kind, digest string) ([]byte, error) {
		req, err := http.NewRequest("GET", "http://"+reg.Host+"/v2/nix-buildpack/"+kind+"/"+digest, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("GET %s: %s", req.URL, resp.Status)
		}
		return io.ReadAll(resp.Body)
	}
	b, err := fromRegistry("manifests", "0.1.0")
	if err != nil {
		t.Fatal(err)
	}
	var index ociIndex
	if err := json.Unmarshal(b, &index); err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, m := range index.Manifests {
		if m.Platform == nil {
			t.Fatalf("the index names a manifest without a platform:\n%s", b)
		}
		p := m.Platform.OS + "/" + m.Platform.Architecture
		platforms = append(platforms, p)
		checkBuildpackImage(t, ref+" "+p, m.Platform.Architecture, func(d string) ([]byte, error) {
			if d == m.Digest {
				return fromRegistry("manifests", d)
			}
			return fromRegistry("blobs", d)
		}, m.Digest)
	}
	sort.Strings(platforms)
	if index.MediaType != "application/vnd.oci.image.index.v1+json" || strings.Join(platforms, " ") != "linux/amd64 linux/arm64" {
		t.Fatalf("%s is a %s naming %v, want an OCI image index naming linux/amd64 and linux/arm64:\n%s", ref, index.MediaType, platforms, b)
	}
	t.Logf("%s: an image index naming %v", ref, platforms)

	for _, arch := range []string{"amd64", "arm64"} {
		file := filepath.Join(out, "nix-buildpack-linux-"+arch+".cnb")
		blobs, err := tarFiles(file)
		if err != nil {
			t.Fatal(err)
		}
		var layout ociIndex
		if err := json.Unmarshal(blobs["index.json"], &layout); err != nil || len(layout.Manifests) != 1 {
			t.Fatalf("%s: index.json %v, want one manifest:\n%s", file, err, blobs["index.json"])
		}
		checkBuildpackImage(t, file, arch, func(d string) ([]byte, error) {
			b, ok := blobs["blobs/sha256/"+strings.TrimPrefix(d, "sha256:")]
			if !ok {
				return nil, fmt.Errorf("%s: no blob %s", file, d)
			}
			return b, nil
		}, layout.Manifests[0].Digest)
	}
	if a, b := filepath.Join(out, "nix-buildpack.cnb"), filepath.Join(out, "nix-buildpack-linux-amd64.cnb"); !sameFile(a, b) {
		t.Errorf("%s is not %s", a, b)
	}
}

// checkBuildpackImage reads the buildpack image whose manifest is digest
// through blob and checks that its config says arch and that its layer's
// programs are for arch.
func checkBuildpackImage(t *testing.T, what, arch string, blob func(string) ([]byte, error), digest string) {
	t.Helper()
	b, err := blob(digest)
	if err != nil {
		t.Fatal(err)
	}
	var m ociManifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: manifest: %v", what, err)
	}
	cb, err := blob(m.Config.Digest)
	if err != nil {
		t.Fatal(err)
	}
	var config struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	}
	if err := json.Unmarshal(cb, &config); err != nil || config.OS != "linux" || config.Architecture != arch {
		t.Errorf("%s: config says %s/%s (%v), want linux/%s", what, config.OS, config.Architecture, err, arch)
	}
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	found := map[string]bool{}
	for _, l := range m.Layers {
		lb, err := blob(l.Digest)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(lb))
		if err != nil {
			t.Fatalf("%s: layer %s: %v", what, l.Digest, err)
		}
		tr := tar.NewReader(zr)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: layer %s: %v", what, l.Digest, err)
			}
			name := filepath.Base(h.Name)
			if filepath.Base(filepath.Dir(h.Name)) != "bin" || h.Typeflag != tar.TypeReg || !strings.HasPrefix(h.Name, "/cnb/buildpacks/") {
				continue
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			f, err := elf.NewFile(bytes.NewReader(data))
			if err != nil {
				t.Errorf("%s: %s: %v", what, h.Name, err)
				continue
			}
			if f.Machine != machine {
				t.Errorf("%s: %s is for %s, want %s", what, h.Name, f.Machine, machine)
			}
			found[name] = true
		}
	}
	for _, name := range []string{"build", "detect", "nixbp-launch", "nixbp", "proot"} {
		if !found[name] {
			t.Errorf("%s: no bin/%s in the buildpack layer", what, name)
		}
	}
}

// tarFiles reads every regular file of a tar archive into memory.
func tarFiles(path string) (map[string][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, err
			}
			files[strings.TrimLeft(strings.TrimPrefix(h.Name, "./"), "/")] = b
		}
	}
}

func sameFile(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}
