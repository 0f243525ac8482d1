// Package clients deploys apps with the programs real platforms run: Dokku's
// herokuish and Cloud Foundry's buildpackapplifecycle (builder and
// launcher, also behind Kf), built from their upstream sources by
// scripts/tools.sh, in containers of Debian images shaped like the
// platforms' (scripts/docker/client-images.sh), under Docker's default
// seccomp profile and with no network but each container's own loopback.
// The buildpack reaches each client as a user gives it: a URL, served on
// that loopback from inside the container.
package clients

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e/docker"
)

// Env is what every deploy shares: a private Docker daemon, the packaged
// buildpack and the clients' images.
type Env struct {
	D *docker.Env
	// Out holds the packaged buildpack: nix-buildpack-<version>.tgz and
	// .zip, served to the clients from inside their containers.
	Out string
	// Tgz and Zip are the packages' file names in Out.
	Tgz, Zip string
	// NixTarball is the Nix installer tarball fixture the buildpack is
	// pinned to (package.sh --nix-tarball), given as BP_NIX_TARBALL.
	NixTarball string
	// Herokuish and CFLinuxFS are the clients' images.
	Herokuish, CFLinuxFS string
}

// Mounted paths inside the containers.
const (
	srvDir       = "/srv/buildpacks" // Out, read-only
	busyboxPath  = "/usr/local/bin/busybox"
	inDir        = "/in" // the app and config, read-only
	loopbackBase = "http://127.0.0.1:8000/"
)

// serveBuildpacks starts busybox httpd on the container's loopback,
// serving Out: the URL a user gives the client, reachable with
// --network none because the server runs in the same container.
const serveBuildpacks = busyboxPath + " httpd -p 127.0.0.1:8000 -h " + srvDir

// Prepare packages the buildpack into out, pinned to nixTarball, and makes
// the clients' images.
func Prepare(d *docker.Env, out, nixTarball string) (*Env, error) {
	cmd := exec.Command(filepath.Join(d.Repo, "scripts", "package.sh"), "--nix-tarball", nixTarball, "--no-cnb", out)
	cmd.Env = d.Environ()
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("scripts/package.sh: %v\n%s", err, b)
	}
	e := &Env{D: d, Out: out, NixTarball: nixTarball}
	for _, ext := range []string{"tgz", "zip"} {
		m, _ := filepath.Glob(filepath.Join(out, "nix-buildpack-*."+ext))
		if len(m) != 1 {
			return nil, fmt.Errorf("scripts/package.sh made %v in %s, want one nix-buildpack-<version>.%s", m, out, ext)
		}
		if ext == "tgz" {
			e.Tgz = filepath.Base(m[0])
		} else {
			e.Zip = filepath.Base(m[0])
		}
	}
	images, err := d.Script(20*time.Minute, filepath.Join(d.Repo, "scripts", "docker", "client-images.sh"))
	if err != nil {
		return nil, err
	}
	names := strings.Fields(images)
	if len(names) != 2 {
		return nil, fmt.Errorf("client-images.sh printed %q, want two image names", images)
	}
	e.Herokuish, e.CFLinuxFS = names[0], names[1]
	return e, nil
}

// TarballIn is where the Nix tarball is mounted in build containers (the
// setting BP_NIX_TARBALL a user of an offline platform gives).
func (e *Env) TarballIn() string { return "/opt/nix/" + filepath.Base(e.NixTarball) }

// mounts are the read-only mounts every build container has.
func (e *Env) mounts(in string) []string {
	return []string{"-v", e.Out + ":" + srvDir + ":ro", "-v", "/bin/busybox:" + busyboxPath + ":ro",
		"-v", e.NixTarball + ":" + e.TarballIn() + ":ro", "-v", in + ":" + inDir + ":ro"}
}

// docker runs the docker CLI with a bound and returns its output, standard
// output and error merged (a build's log).
func (e *Env) docker(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = e.D.Environ()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

// Run runs a shell script in a throwaway container of image, as the
// deploys run (default seccomp profile, --network none), and returns its
// output.
func (e *Env) Run(image, script string) (string, error) {
	return e.docker(5*time.Minute, "run", "--rm", "--network", "none", image, "/bin/bash", "-c", script)
}

// App is an app's source and settings, laid out for a container to copy:
// in/app (the fixture, with what the client reads from it) and in/env
// (config vars, one file each).
type App struct {
	Name string
	In   string
	// Config are the config vars (settings) the platform gives the build.
	Config map[string]string
}

// NewApp lays out the app from src (a fixture copied with its busybox by
// the caller) with the config vars.
func NewApp(name, src, in string, config map[string]string) (*App, error) {
	a := &App{Name: name, In: in, Config: config}
	if err := os.MkdirAll(filepath.Join(in, "env"), 0o755); err != nil {
		return nil, err
	}
	if out, err := exec.Command("cp", "-a", src, filepath.Join(in, "app")).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("copying %s: %v\n%s", src, err, out)
	}
	for k, v := range config {
		if err := os.WriteFile(filepath.Join(in, "env", k), []byte(v), 0o644); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Running is an app container; HTTP is checked from inside it, on its
// loopback (the container has no other network).
type Running struct {
	e    *Env
	ID   string
	Port int
}

// Get polls path on the app's loopback with curl inside the container until
// it answers or within passes; it returns the HTTP status and body.
func (r *Running) Get(path string, within time.Duration) (int, string, error) {
	deadline := time.Now().Add(within)
	url := fmt.Sprintf("http://127.0.0.1:%d%s", r.Port, path)
	for {
		out, err := r.e.docker(time.Minute, "exec", r.ID, "curl", "-sS", "--max-time", "10", "-w", "\n%{http_code}", url)
		if err == nil {
			i := strings.LastIndexByte(out, '\n')
			var status int
			if _, serr := fmt.Sscan(out[i+1:], &status); serr == nil && status != 0 {
				return status, out[:i], nil
			}
		}
		if time.Now().After(deadline) {
			return 0, "", fmt.Errorf("no answer from %s within %s: %v\n%s", url, within, err, out)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Logs is the container's output so far.
func (r *Running) Logs() string {
	out, _ := r.e.docker(time.Minute, "logs", r.ID)
	return out
}

// Remove removes the container.
func (r *Running) Remove() { _, _ = r.e.docker(time.Minute, "rm", "-f", r.ID) }

// strategyRE is the launcher's one line saying how the store is shown.
var strategyRE = regexp.MustCompile(`nixbp-launch: (no /nix needed: the closure is relocated to (\S+) \(relocate\)|/nix through (\S+))`)

// Strategy is the /nix strategy the launcher logged ("relocate" with the
// directory, or what showed /nix), "" when it logged none.
func Strategy(logs string) (strategy, dir string) {
	m := strategyRE.FindStringSubmatch(logs)
	switch {
	case m == nil:
		return "", ""
	case m[2] != "":
		return "relocate", m[2]
	}
	return m[3], ""
}
