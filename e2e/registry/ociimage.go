package registry

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// BuildUID and BuildGID are the run image's user, as in the CNB base images
// (cnb, 1000 there; 2000 here, as the build user of these tests).
const BuildUID, BuildGID = 2000, 2000

// PushRunImage pushes a run image made from a busybox root filesystem (the
// static busybox binary, its sh, an /etc/passwd with the cnb user) to ref,
// with Go code and no Docker daemon, and returns its digest.
func PushRunImage(ref, busybox string) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", err
	}
	rootfs, err := busyboxRootfs(busybox)
	if err != nil {
		return "", err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(rootfs)), nil
	})
	if err != nil {
		return "", err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return "", err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cf.Config.User = fmt.Sprintf("%d:%d", BuildUID, BuildGID)
	cf.Config.Labels = map[string]string{"io.buildpacks.base.maintainer": "nix-buildpack e2e"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return "", err
	}
	if err := remote.Write(r, img, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return "", fmt.Errorf("unable to push the run image %s\n%w", ref, err)
	}
	d, err := img.Digest()
	return d.String(), err
}

// busyboxRootfs is the run image's only layer, as a tar.
func busyboxRootfs(busybox string) ([]byte, error) {
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := []struct {
		name string
		mode int64
		uid  int
	}{{"bin", 0o755, 0}, {"etc", 0o755, 0}, {"tmp", 0o1777, 0}, {"home", 0o755, 0}, {"home/cnb", 0o755, BuildUID}}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.name + "/", Mode: d.mode, Uid: d.uid, Gid: d.uid}); err != nil {
			return nil, err
		}
	}
	files := []struct {
		name string
		mode int64
		data []byte
	}{
		{"bin/busybox", 0o755, bin},
		{"etc/passwd", 0o644, []byte(fmt.Sprintf("root:x:0:0:root:/root:/bin/sh\ncnb:x:%d:%d:cnb:/home/cnb:/bin/sh\n", BuildUID, BuildGID))},
		{"etc/group", 0o644, []byte(fmt.Sprintf("root:x:0:\ncnb:x:%d:\n", BuildGID))},
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	for _, applet := range []string{"sh", "env", "cat", "ls"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + applet, Linkname: "busybox", Mode: 0o777}); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), tw.Close()
}

// Pulled is an image read back from the registry.
type Pulled struct {
	// Image is the image as go-containerregistry reads it remotely.
	Image v1.Image
	// Config is its configuration file (labels, environment, user).
	Config *v1.ConfigFile
}

// Pull reads an image's manifest and configuration from the registry.
func Pull(ref string) (*Pulled, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(r, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		return nil, fmt.Errorf("unable to pull %s\n%w", ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	return &Pulled{Image: img, Config: cf}, nil
}

// Extract writes the image's flattened root filesystem into dir (tar keeps
// owners, modes and links, as a container runtime's snapshotter would).
func (p *Pulled) Extract(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rc := mutate.Extract(p.Image)
	defer rc.Close()
	cmd := exec.Command("tar", "--numeric-owner", "-xpf", "-", "-C", dir)
	cmd.Stdin = rc
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("unable to extract the image into %s: %v\n%s", dir, err, out)
	}
	return nil
}

// Contains reports where needle occurs in the image: in a layer's
// uncompressed tar (by index and diff ID), the configuration (labels,
// environment, history) or the manifest.
func (p *Pulled) Contains(needle string) ([]string, error) {
	var found []string
	raw, err := p.Image.RawConfigFile()
	if err != nil {
		return nil, err
	}
	if bytes.Contains(raw, []byte(needle)) {
		found = append(found, "config")
	}
	manifest, err := p.Image.RawManifest()
	if err != nil {
		return nil, err
	}
	if bytes.Contains(manifest, []byte(needle)) {
		found = append(found, "manifest")
	}
	layers, err := p.Image.Layers()
	if err != nil {
		return nil, err
	}
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		if bytes.Contains(data, []byte(needle)) {
			id, _ := l.DiffID()
			found = append(found, fmt.Sprintf("layer %d (%s)", i, id))
		}
	}
	return found, nil
}
