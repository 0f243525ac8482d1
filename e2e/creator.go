package e2e

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e/registry"
)

// Export says where the lifecycle's creator reads and writes images, as
// kpack and Tekton's buildpacks task give them.
type Export struct {
	// Image is the reference to export to (registry/app:tag).
	Image string
	// RunImage is the base of the exported image.
	RunImage string
	// CacheImage holds cache=true layers between builds; "" for none.
	CacheImage string
	// PreviousImage is the image whose layers may be reused; "" for none.
	PreviousImage string
	// InsecureRegistry is a registry spoken to over plain HTTP.
	InsecureRegistry string
	// PlatformAPI is the platform API the creator is run with; "" is
	// PlatformAPI (Tekton's buildpacks task 0.7 pins 0.9).
	PlatformAPI string
	// RegistryAuth is the creator's CNB_REGISTRY_AUTH ("" for none), as
	// kpack and pack give the lifecycle the registry's credentials.
	RegistryAuth string
}

// Create runs the lifecycle's creator as kpack runs it in a pod with no
// Docker daemon: as root, dropping to the workspace's uid and gid for the
// buildpacks, analysing, restoring, building and exporting straight to the
// registry. As in a builder image, the app is /workspace, the layers
// /layers, the platform /platform, the buildpacks and lifecycle under /cnb,
// and there is no /nix: bubblewrap makes that root from this machine's
// (see kpackRoot). It returns the creator's output.
func (w *Workspace) Create(e Export) (string, error) {
	args := []string{"-app", "/workspace", "-buildpacks", "/cnb/buildpacks", "-order", "/cnb/order.toml",
		"-layers", "/layers", "-platform", "/platform", "-launcher", "/cnb/lifecycle/launcher",
		"-run-image", e.RunImage, "-uid", strconv.Itoa(w.UID), "-gid", strconv.Itoa(w.GID), "-log-level", "info"}
	if e.CacheImage != "" {
		args = append(args, "-cache-image", e.CacheImage)
	}
	if e.PreviousImage != "" {
		args = append(args, "-previous-image", e.PreviousImage)
	}
	root, err := w.kpackRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("bwrap", append(append(root, "/cnb/lifecycle/creator"), append(args, e.Image)...)...)
	api := e.PlatformAPI
	if api == "" {
		api = PlatformAPI
	}
	cmd.Env = append(w.env(), "CNB_PLATFORM_API="+api, "CNB_INSECURE_REGISTRIES="+e.InsecureRegistry)
	if e.RegistryAuth != "" {
		cmd.Env = append(cmd.Env, "CNB_REGISTRY_AUTH="+e.RegistryAuth)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("lifecycle creator: %w", err)
	}
	return string(out), nil
}

// kpackRoot is the bubblewrap arguments for a builder image's root made of
// this machine's: its top-level directories bound (not /nix, which a
// builder image lacks), the workspace at the CNB paths, and an /etc/passwd
// with the build user, all capabilities kept (the creator runs as root and
// drops to the build user itself).
func (w *Workspace) kpackRoot() ([]string, error) {
	passwd, err := w.builderPasswd()
	if err != nil {
		return nil, err
	}
	args := []string{"--cap-add", "ALL", "--dev-bind", "/dev", "/dev", "--proc", "/proc", "--bind", "/sys", "/sys"}
	entries, err := os.ReadDir("/")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		p := "/" + e.Name()
		switch {
		case e.Name() == "nix" || e.Name() == "dev" || e.Name() == "proc" || e.Name() == "sys":
		case e.Type()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return nil, err
			}
			args = append(args, "--symlink", target, p)
		case e.IsDir():
			args = append(args, "--bind", p, p)
		}
	}
	return append(args, "--perms", "0755", "--dir", "/cnb", "--ro-bind", passwd, "/etc/passwd", "--bind", w.App, "/workspace", "--bind", w.Layers, "/layers",
		"--bind", w.Platform, "/platform", "--bind", w.Buildpacks, "/cnb/buildpacks",
		"--ro-bind", filepath.Join(w.Root, "order.toml"), "/cnb/order.toml", "--ro-bind", w.Lifecycle, "/cnb/lifecycle", "--"), nil
}

// builderPasswd writes this machine's /etc/passwd plus the build user,
// named cnb as in the CNB base images, if it lacks the uid.
func (w *Workspace) builderPasswd() (string, error) {
	data, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return "", err
	}
	if !strings.Contains(string(data), fmt.Sprintf(":x:%d:", w.UID)) {
		data = append(data, fmt.Sprintf("cnb:x:%d:%d:cnb:%s:/bin/sh\n", w.UID, w.GID, w.Root)...)
	}
	p := filepath.Join(w.Root, "passwd")
	return p, os.WriteFile(p, data, 0o644)
}

// RunImage starts an image's default process over its extracted root
// filesystem, as a container runtime would: bubblewrap makes root the root
// of a new mount and user namespace, as the image's user
// (registry.BuildUID), with the image's environment and working directory,
// sharing the host's network so the test reaches the process on loopback.
func RunImage(root string, p *registry.Pulled, env map[string]string, stdout io.Writer) (*exec.Cmd, error) {
	c := p.Config.Config
	args := []string{"--bind", root, "/", "--proc", "/proc", "--dev", "/dev", "--unshare-user",
		"--uid", strconv.Itoa(registry.BuildUID), "--gid", strconv.Itoa(registry.BuildGID), "--die-with-parent", "--clearenv"}
	for _, kv := range c.Env {
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				args = append(args, "--setenv", kv[:i], kv[i+1:])
				break
			}
		}
	}
	for k, v := range env {
		args = append(args, "--setenv", k, v)
	}
	if c.WorkingDir != "" {
		args = append(args, "--chdir", c.WorkingDir)
	}
	args = append(append(args, "--"), append(c.Entrypoint, c.Cmd...)...)
	cmd := exec.Command("bwrap", args...)
	cmd.Stdout, cmd.Stderr = stdout, stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	return cmd, cmd.Start()
}
