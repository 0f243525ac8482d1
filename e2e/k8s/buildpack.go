package k8s

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// Buildpack is this checkout's buildpack as scripts/package.sh packages it
// for an air-gapped cluster (--include-nix: the Nix tarball in its
// dependency cache, since pods reach no download).
type Buildpack struct {
	// Dir is the buildpack directory; CNB the buildpackage (.cnb, an OCI
	// layout in a tar); Nixbp the nixbp command for this machine.
	Dir, CNB, Nixbp string
	// Version is buildpack.toml's.
	Version string
}

// Package runs scripts/package.sh into out, for linux/amd64 only (the
// cluster's architecture; the included Nix tarball is amd64's, and
// without --arch the arm64 buildpack would download its own).
func Package(repo, out, nixTarball string) (*Buildpack, error) {
	cmd := exec.Command(filepath.Join(repo, "scripts", "package.sh"), "--nix-tarball", nixTarball, "--include-nix", "--arch", "amd64", out)
	cmd.Dir = repo
	b, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("scripts/package.sh: %v\n%s", err, b)
	}
	bp := &Buildpack{Dir: filepath.Join(out, "buildpack"), CNB: filepath.Join(out, "nix-buildpack.cnb"),
		Nixbp: filepath.Join(out, "lib", "linux-amd64", "nixbp")}
	toml, err := os.ReadFile(filepath.Join(bp.Dir, "buildpack.toml"))
	if err != nil {
		return nil, err
	}
	m := regexp.MustCompile(`(?m)^\s*version = "([^"]+)"`).FindSubmatch(toml)
	if m == nil {
		return nil, fmt.Errorf("%s/buildpack.toml: no version", bp.Dir)
	}
	bp.Version = string(m[1])
	return bp, nil
}

// Run runs a command inside the cluster's network namespace and returns
// its output (standard error included).
func (c *Cluster) Run(env []string, name string, args ...string) (string, error) {
	cmd := c.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Crane is the crane binary of scripts/k8s/tools.sh.
func (c *Cluster) Crane() string {
	return filepath.Join(c.Tools, "bin", "crane-"+c.Env["CRANE_VERSION"])
}

// PushBuildpackage pushes the .cnb (an OCI image layout in a tar, as `pack
// buildpack package --format file` writes it) to ref, as a user publishes a
// buildpackage for kpack's ClusterStore.
func (c *Cluster) PushBuildpackage(cnb, ref, tmp string) error {
	layout := filepath.Join(tmp, "buildpackage-layout")
	if err := os.MkdirAll(layout, 0o755); err != nil {
		return err
	}
	if out, err := exec.Command("tar", "-xf", cnb, "-C", layout).CombinedOutput(); err != nil {
		return fmt.Errorf("unpacking %s: %v\n%s", cnb, err, out)
	}
	_, err := c.Run(nil, c.Crane(), "push", "--insecure", layout, ref)
	return err
}

// S3 is a real S3 server (versitygw) on the node's address, for the
// closure cache that build pods share.
type S3 struct {
	// Endpoint is http://<node address>:<port>, reachable from pods.
	Endpoint       string
	Access, Secret string
	Dir            string
	cmd            *exec.Cmd
}

// StartS3 starts versitygw inside the cluster's network namespace serving
// dir, with the buckets made. It dies with this process at the latest.
func (c *Cluster) StartS3(versitygw, dir string, buckets ...string) (*S3, error) {
	for _, b := range buckets {
		if err := os.MkdirAll(filepath.Join(dir, b), 0o755); err != nil {
			return nil, err
		}
	}
	l, err := c.Listen()
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	s := &S3{Endpoint: "http://" + addr, Access: "nixbp-k8s-access", Secret: "nixbp-k8s-secret-never-logged", Dir: dir}
	s.cmd = c.Command(versitygw, "--access", s.Access, "--secret", s.Secret, "--port", addr, "--quiet", "posix", dir)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var conn net.Conn
		err := inNetns(c.netns, func() error {
			var err error
			conn, err = net.Dial("tcp", addr)
			return err
		})
		if err == nil {
			conn.Close()
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("versitygw did not listen on %s within 30 s", addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop kills the server.
func (s *S3) Stop() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}
