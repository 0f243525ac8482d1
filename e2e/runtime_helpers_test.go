package e2e_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// checkLaunchTOML checks that the build gave the lifecycle the healthcheck
// label and the release process, which the exporter puts into the image.
func checkLaunchTOML(t *testing.T, layers string) {
	t.Helper()
	var launch struct {
		Labels    []struct{ Key, Value string }
		Processes []struct {
			Type    string
			Command []string
			Args    []string
			Default bool
		}
	}
	data, err := os.ReadFile(filepath.Join(layers, "nix-buildpack_nix", "launch.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := toml.Decode(string(data), &launch); err != nil {
		t.Fatalf("launch.toml: %v\n%s", err, data)
	}
	var hc map[string]any
	for _, l := range launch.Labels {
		if l.Key == "io.github.nix-buildpack.healthcheck" {
			if err := json.Unmarshal([]byte(l.Value), &hc); err != nil {
				t.Fatalf("label %q: %v", l.Value, err)
			}
		}
	}
	if hc["path"] != "/" || hc["interval"] != 10.0 || hc["retries"] != 3.0 {
		t.Errorf("healthcheck label = %v in\n%s", hc, data)
	}
	types := map[string]bool{}
	for _, p := range launch.Processes {
		types[p.Type] = true
		if p.Type == "cron" && !strings.Contains(strings.Join(p.Args, " "), "--cron @every 1s -- busybox echo tick from cron") {
			t.Errorf("cron process args %q", p.Args)
		}
	}
	for _, want := range []string{"web", "printenv", "cron", "release"} {
		if !types[want] {
			t.Errorf("launch.toml lacks the process type %s:\n%s", want, data)
		}
	}
}

// ticks counts the lines the cron worker's command printed (the
// launcher's own lines name the command too).
func ticks(log string) int {
	n := 0
	for _, l := range strings.Split(log, "\n") {
		if l == "tick from cron" {
			n++
		}
	}
	return n
}

// syncBuilder is a strings.Builder a process may write while a test reads.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond until it holds or within has passed (a generous
// bound, not a timed assertion).
func waitFor(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}

// waitExit waits for cmd to exit, killing its process group after within.
func waitExit(cmd *exec.Cmd, within time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(within):
		_ = cmd.Process.Kill()
		<-done
		return errors.New("still running after " + within.String())
	}
}

// exitCode is the exit status in err (0 for nil, -1 when it did not exit).
func exitCode(err error) int {
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	}
	return -1
}
