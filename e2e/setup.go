package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Package runs scripts/package.sh into out with the Nix tarball pinned and
// returns the buildpack directory.
func Package(repo, out, nixTarball string) (string, error) {
	cmd := exec.Command(filepath.Join(repo, "scripts", "package.sh"), "--nix-tarball", nixTarball, out)
	cmd.Dir = repo
	b, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("scripts/package.sh: %v\n%s", err, b)
	}
	return strings.TrimSpace(lastLine(string(b))), nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// FreePort returns a TCP port on loopback that nothing listens on now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Get polls url until it answers or the deadline passes, and returns the
// status and body.
func Get(url string, within time.Duration) (int, string, error) {
	deadline := time.Now().Add(within)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, string(body), rerr
		}
		if time.Now().After(deadline) {
			return 0, "", fmt.Errorf("no answer from %s within %s: %v", url, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Readable makes a file readable by everyone along its path (for the
// unprivileged build user), returning a copy's path when it cannot be.
func Readable(path, dir string) (string, error) {
	dst := filepath.Join(dir, filepath.Base(path))
	if err := run("cp", path, dst); err != nil {
		return "", err
	}
	return dst, os.Chmod(dst, 0o644)
}

// Offline returns env with BP_NIX_SUBSTITUTERS=none added unless env sets
// it: the workspaces and Heroku apps of the tests switch substituters off,
// so that each Nix command does not first spend seconds failing to reach
// cache.nixos.org from this offline machine. A test about the default sets
// BP_NIX_SUBSTITUTERS to "", which the buildpack reads as its default.
func Offline(env map[string]string) map[string]string {
	out := map[string]string{"BP_NIX_SUBSTITUTERS": "none"}
	for k, v := range env {
		out[k] = v
	}
	return out
}
