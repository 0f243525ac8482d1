// Package e2e runs the buildpack through the official CNB lifecycle
// (detector, builder, launcher), as a platform would, without Docker. The
// end-to-end tests and the demo share it.
package e2e

import (
	"errors"
	"fmt"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// PlatformAPI is the platform API the lifecycle is driven with.
const PlatformAPI = "0.13"

// Workspace is one app's build directory tree, owned by an unprivileged user
// (the lifecycle refuses to build as root).
type Workspace struct {
	Root, App, Layers, Platform, Buildpacks string
	// Nixpkgs is the test channel's directory when Options.Nixpkgs is set.
	Nixpkgs string
	// Lifecycle is the directory with lifecycle and launcher.
	Lifecycle string
	UID, GID  int
}

// Options says what goes into a workspace.
type Options struct {
	// AppSource is a fixture app directory to copy.
	AppSource string
	// Buildpack is a packaged buildpack directory (scripts/package.sh).
	Buildpack string
	// NixTarball is mapped to the buildpack's Nix checksum by a
	// dependency-mapping binding.
	NixTarball string
	// Busybox is copied into the app as bb/bin/busybox (with bb/bin/sh).
	Busybox string
	// Nixpkgs makes the nixpkgs-shaped test channel (fixtures/nixpkgs, with
	// Busybox copied in) at Root/nixpkgs, sets BP_NIX_NIXPKGS to it unless
	// Env does, and locks an app's flake.nix to it when there is no
	// flake.lock.
	Nixpkgs bool
	// Env is set as platform env vars (platform/env/NAME), with
	// BP_NIX_SUBSTITUTERS=none unless set (Offline).
	Env map[string]string
	// Bindings are platform bindings: name -> key -> value ("type" included).
	Bindings map[string]map[string]string
	UID, GID int
}

// NewWorkspace lays out app, layers, platform and buildpacks under root.
func NewWorkspace(root, lifecycle string, o Options) (*Workspace, error) {
	w := &Workspace{Root: root, App: filepath.Join(root, "app"), Layers: filepath.Join(root, "layers"),
		Platform: filepath.Join(root, "platform"), Buildpacks: filepath.Join(root, "buildpacks"),
		Lifecycle: lifecycle, UID: o.UID, GID: o.GID}
	if err := os.MkdirAll(w.App, 0o755); err != nil {
		return nil, err
	}
	if err := run("cp", "-a", o.AppSource+"/.", w.App+"/"); err != nil {
		return nil, err
	}
	if o.Busybox != "" {
		if err := os.MkdirAll(filepath.Join(w.App, "bb", "bin"), 0o755); err != nil {
			return nil, err
		}
		if err := run("cp", o.Busybox, filepath.Join(w.App, "bb", "bin", "busybox")); err != nil {
			return nil, err
		}
		if err := os.Symlink("busybox", filepath.Join(w.App, "bb", "bin", "sh")); err != nil {
			return nil, err
		}
	}
	if o.Nixpkgs {
		var err error
		if w.Nixpkgs, err = makeNixpkgs(root, w.App, o.Busybox); err != nil {
			return nil, err
		}
		if _, ok := o.Env["BP_NIX_NIXPKGS"]; !ok {
			if err := write(filepath.Join(w.Platform, "env", "BP_NIX_NIXPKGS"), w.Nixpkgs); err != nil {
				return nil, err
			}
		}
	}
	version, err := buildpackVersion(o.Buildpack)
	if err != nil {
		return nil, err
	}
	bpDir := filepath.Join(w.Buildpacks, "nix-buildpack_nix", version)
	if err := os.MkdirAll(filepath.Dir(bpDir), 0o755); err != nil {
		return nil, err
	}
	if err := run("cp", "-a", o.Buildpack, bpDir); err != nil {
		return nil, err
	}
	order := fmt.Sprintf("[[order]]\n[[order.group]]\nid = \"nix-buildpack/nix\"\nversion = %q\n", version)
	if err := write(filepath.Join(root, "order.toml"), order); err != nil {
		return nil, err
	}
	if o.NixTarball != "" {
		sum, err := nixinstall.FileSHA256(o.NixTarball)
		if err != nil {
			return nil, err
		}
		b := filepath.Join(w.Platform, "bindings", "nix-tarball")
		if err := write(filepath.Join(b, "type"), "dependency-mapping"); err != nil {
			return nil, err
		}
		if err := write(filepath.Join(b, sum), "file://"+o.NixTarball); err != nil {
			return nil, err
		}
	}
	for name, kv := range o.Bindings {
		for k, v := range kv {
			if err := write(filepath.Join(w.Platform, "bindings", name, k), v); err != nil {
				return nil, err
			}
		}
	}
	for k, v := range Offline(o.Env) {
		if err := write(filepath.Join(w.Platform, "env", k), v); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(w.Layers, 0o755); err != nil {
		return nil, err
	}
	return w, run("chown", "-R", fmt.Sprintf("%d:%d", o.UID, o.GID), root)
}

// Detect runs the lifecycle's detector.
func (w *Workspace) Detect() (string, error) {
	return w.lifecycle("detect", "-app", w.App, "-buildpacks", w.Buildpacks, "-order", filepath.Join(w.Root, "order.toml"),
		"-layers", w.Layers, "-platform", w.Platform, "-group", filepath.Join(w.Layers, "group.toml"),
		"-plan", filepath.Join(w.Layers, "plan.toml"), "-log-level", "debug")
}

// Build runs the lifecycle's builder.
func (w *Workspace) Build() (string, error) {
	return w.lifecycle("build", w.buildArgs()...)
}

func (w *Workspace) buildArgs() []string {
	return []string{"-app", w.App, "-buildpacks", w.Buildpacks, "-layers", w.Layers,
		"-platform", w.Platform, "-group", filepath.Join(w.Layers, "group.toml"), "-plan", filepath.Join(w.Layers, "plan.toml")}
}

// BuildCommand is the builder's command line and environment, for a test
// that runs it confined (e2e.Dyno) rather than through Build.
func (w *Workspace) BuildCommand() (argv, env []string) {
	return append([]string{filepath.Join(w.Lifecycle, "lifecycle"), "build"}, w.buildArgs()...),
		append(w.env(), "CNB_PLATFORM_API="+PlatformAPI)
}

func (w *Workspace) lifecycle(phase string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(w.Lifecycle, "lifecycle"), append([]string{phase}, args...)...)
	cmd.Env = append(w.env(), "CNB_PLATFORM_API="+PlatformAPI)
	w.asUser(cmd)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("lifecycle %s: %w", phase, err)
	}
	return string(out), nil
}

// Launch starts a process type through the lifecycle's launcher, as an
// exported image's /cnb/process/<type> would.
func (w *Workspace) Launch(processType string, env map[string]string, stdout io.Writer) (*exec.Cmd, error) {
	link, err := w.ProcessLink(processType)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(link)
	cmd.Dir = w.App
	cmd.Env = w.LaunchEnv()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = stdout, stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	w.asUser(cmd)
	return cmd, cmd.Start()
}

// ProcessLink is a link to the lifecycle's launcher named after the
// process type, which the launcher starts (as /cnb/process/<type>).
func (w *Workspace) ProcessLink(processType string) (string, error) {
	procDir := filepath.Join(w.Root, "process")
	if err := os.MkdirAll(procDir, 0o755); err != nil {
		return "", err
	}
	link := filepath.Join(procDir, processType)
	_ = os.Remove(link)
	return link, os.Symlink(filepath.Join(w.Lifecycle, "launcher"), link)
}

// LaunchEnv is the environment the lifecycle's launcher runs with.
func (w *Workspace) LaunchEnv() []string {
	return append(w.env(), "CNB_PLATFORM_API="+PlatformAPI, "CNB_LAYERS_DIR="+w.Layers, "CNB_APP_DIR="+w.App)
}

// Stop sends SIGTERM to a launched process (as a platform stops a
// container) and returns its exit status; the whole process group is
// killed if it has not exited within a few seconds.
func Stop(cmd *exec.Cmd) (int, error) { return stop(cmd, false) }

// stop sends SIGTERM to the process, or with group to its whole process
// group, and SIGKILL to the group after 5 s.
func stop(cmd *exec.Cmd, group bool) (int, error) {
	if group {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	} else {
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode(), nil
		}
		return cmd.ProcessState.ExitCode(), err
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return -1, fmt.Errorf("process did not stop within 5 s of SIGTERM")
	}
}

func (w *Workspace) env() []string {
	return []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + w.Root, "TMPDIR=/tmp"}
}

func (w *Workspace) asUser(cmd *exec.Cmd) {
	if os.Getuid() == 0 {
		cmd.Path, cmd.Args = "/usr/bin/setpriv", append([]string{"setpriv", "--reuid=" + strconv.Itoa(w.UID),
			"--regid=" + strconv.Itoa(w.GID), "--clear-groups", "--"}, cmd.Args...)
	}
}

func buildpackVersion(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "buildpack.toml"))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "version = ") {
			return strings.Trim(strings.TrimPrefix(line, "version = "), `"`), nil
		}
	}
	return "", fmt.Errorf("%s/buildpack.toml has no version", dir)
}

func write(p, s string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(s), 0o644)
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}
