// Package docker drives the real thing a user runs: `pack build` against a
// private Docker daemon with the offline builder of scripts/docker, then
// `docker run` of the image. The Docker end-to-end tests and the launch
// benchmark (bench/launch) share it.
package docker

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Builder is the builder image scripts/docker/builder.sh makes.
const Builder = "nixbp/builder:busybox"

// The run images of scripts/docker/images.sh.
const (
	RunImage       = "nixbp/run:busybox"
	NativeRunImage = "nixbp/run-native:busybox"
)

// Env is a private Docker daemon and the tools that talk to it.
type Env struct {
	// Repo is the checkout; Tools its .tools directory.
	Repo, Tools string
	// DockerHost is the daemon's address, as DOCKER_HOST.
	DockerHost string
	// Pack is the pack binary.
	Pack string
	// started is true when Start started the daemon (so Stop stops it).
	started bool
}

// Start starts the private daemon (scripts/docker/dockerd.sh), or finds it
// running.
func Start(repo, tools string) (*Env, error) {
	e := &Env{Repo: repo, Tools: tools, Pack: filepath.Join(tools, "bin", "pack")}
	script := filepath.Join(repo, "scripts", "docker", "dockerd.sh")
	out, err := e.script(5*time.Second, script, "env")
	if err != nil {
		return nil, err
	}
	e.DockerHost = strings.TrimPrefix(strings.TrimSpace(out), "DOCKER_HOST=")
	_, alive := e.Docker(10*time.Second, "version")
	if _, err := e.script(time.Minute, script, "start"); err != nil {
		return nil, err
	}
	e.started = alive != nil
	return e, nil
}

// Stop stops the daemon if Start started it.
func (e *Env) Stop() error {
	if !e.started {
		return nil
	}
	_, err := e.script(time.Minute, filepath.Join(e.Repo, "scripts", "docker", "dockerd.sh"), "stop")
	return err
}

// Environ is the environment for docker and pack: the daemon, and pack's
// home and volume key (without a key, pack makes a new cache volume for
// every build when it believes it runs in a container).
func (e *Env) Environ() []string {
	return append(os.Environ(), "DOCKER_HOST="+e.DockerHost, "PACK_HOME="+filepath.Join(e.Tools, "pack-home"),
		"PACK_VOLUME_KEY=nixbp-e2e", "NIXBP_TOOLS_DIR="+e.Tools)
}

// Docker runs the docker CLI and returns its standard output.
func (e *Env) Docker(timeout time.Duration, args ...string) (string, error) {
	return e.run(timeout, "docker", args...)
}

// PackCmd runs pack and returns its combined output.
func (e *Env) PackCmd(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.Pack, args...)
	cmd.Env = e.Environ()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("pack %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// MakeBuilder makes the base images and the builder holding cnb.
func (e *Env) MakeBuilder(cnb string) error {
	_, err := e.script(10*time.Minute, filepath.Join(e.Repo, "scripts", "docker", "builder.sh"), cnb, Builder)
	return err
}

// Build runs `pack build image` of the app in dir with the builder, offline,
// and returns pack's output and how long it took.
func (e *Env) Build(image, dir string, extra ...string) (string, time.Duration, error) {
	return e.BuildWith(Builder, image, dir, extra...)
}

// BuildWith is Build with another builder.
func (e *Env) BuildWith(builder, image, dir string, extra ...string) (string, time.Duration, error) {
	start := time.Now()
	out, err := e.PackCmd(15*time.Minute, append([]string{"build", image, "--builder", builder, "--path", dir,
		"--pull-policy", "never", "--trust-builder", "--docker-host", "inherit"}, extra...)...)
	return out, time.Since(start), err
}

func (e *Env) script(timeout time.Duration, path string, args ...string) (string, error) {
	return e.run(timeout, path, args...)
}

// Script runs a program (a script of the checkout) with the daemon's
// environment and returns its standard output; the error holds both.
func (e *Env) Script(timeout time.Duration, path string, args ...string) (string, error) {
	return e.run(timeout, path, args...)
}

func (e *Env) run(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = e.Environ()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w\n%s%s", filepath.Base(name), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// Package runs scripts/package.sh with the Nix tarball included in the
// buildpack (the air-gapped package, linux/amd64 only: the tarball is
// amd64's) and returns the .cnb file.
func Package(repo, out, nixTarball string) (string, error) {
	cmd := exec.Command(filepath.Join(repo, "scripts", "package.sh"), "--nix-tarball", nixTarball, "--include-nix", "--arch", "amd64", out)
	cmd.Dir = repo
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("scripts/package.sh: %v\n%s", err, b)
	}
	return filepath.Join(out, "nix-buildpack.cnb"), nil
}

// App copies a fixture app into dir with the busybox it builds with (bb/,
// made at test time so that no binary is committed).
func App(repo, fixture, dir string) error {
	if out, err := exec.Command("cp", "-a", filepath.Join(repo, "fixtures", "apps", fixture)+"/.", dir+"/").CombinedOutput(); err != nil {
		return fmt.Errorf("copying %s: %v\n%s", fixture, err, out)
	}
	bin := filepath.Join(dir, "bb", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	if out, err := exec.Command("cp", "/bin/busybox", filepath.Join(bin, "busybox")).CombinedOutput(); err != nil {
		return fmt.Errorf("copying busybox: %v\n%s", err, out)
	}
	return os.Symlink("busybox", filepath.Join(bin, "sh"))
}
