package docker

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Container is a running app image.
type Container struct {
	e  *Env
	ID string
	// Port is the host port (on 127.0.0.1) published for the app's 8080.
	Port int
}

// Run starts image detached with its port 8080 published on loopback.
func (e *Env) Run(image string, args ...string) (*Container, error) {
	out, err := e.Docker(time.Minute, append(append([]string{"run", "-d", "-p", "127.0.0.1::8080"}, args...), image)...)
	if err != nil {
		return nil, err
	}
	c := &Container{e: e, ID: strings.TrimSpace(out)}
	port, err := e.Docker(time.Minute, "port", c.ID, "8080/tcp")
	if err != nil {
		logs := c.Logs()
		c.Remove()
		return nil, fmt.Errorf("%s exited at once: %w\nits output:\n%s", image, err, logs)
	}
	first := strings.Fields(port)
	if len(first) == 0 {
		c.Remove()
		return nil, fmt.Errorf("docker port %s: no port published", c.ID)
	}
	if c.Port, err = strconv.Atoi(first[0][strings.LastIndexByte(first[0], ':')+1:]); err != nil {
		c.Remove()
		return nil, fmt.Errorf("docker port %s: %q", c.ID, port)
	}
	return c, nil
}

// Get polls the app's / until it answers or the time is up.
func (c *Container) Get(within time.Duration) (int, string, error) {
	return c.GetPath("/", within)
}

// GetPath is Get of another path.
func (c *Container) GetPath(path string, within time.Duration) (int, string, error) {
	deadline := time.Now().Add(within)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", c.Port, path))
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, string(body), rerr
		}
		if time.Now().After(deadline) {
			return 0, "", fmt.Errorf("no answer from the container on port %d within %s: %v", c.Port, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Logs is the container's output so far, standard output and error merged.
func (c *Container) Logs() string {
	cmd := exec.Command("docker", "logs", c.ID)
	cmd.Env = c.e.Environ()
	out, _ := cmd.CombinedOutput()
	return string(out)
}

// Stop stops the container as a platform does (SIGTERM, then SIGKILL after
// 10 s) and returns its exit code and how long stopping took.
func (c *Container) Stop() (int, time.Duration, error) {
	start := time.Now()
	if _, err := c.e.Docker(time.Minute, "stop", "-t", "10", c.ID); err != nil {
		return 0, 0, err
	}
	took := time.Since(start)
	out, err := c.e.Docker(time.Minute, "inspect", "-f", "{{.State.ExitCode}}", c.ID)
	if err != nil {
		return 0, took, err
	}
	code, err := strconv.Atoi(strings.TrimSpace(out))
	return code, took, err
}

// Remove removes the container, running or not.
func (c *Container) Remove() {
	_, _ = c.e.Docker(time.Minute, "rm", "-f", c.ID)
}
