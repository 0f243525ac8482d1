package k8s_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e/k8s"
	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// The cluster all tests of the package share: one start (about a minute
// with the tools built), Tekton and kpack installed once.
var (
	cluster *k8s.Cluster
	// before is the host's state before the cluster started.
	before k8s.HostState
	// missing is why the cluster could not start for want of something
	// .ci/run installs (a skip outside CI); startErr why it failed.
	missing  string
	startErr error
	// name and state are the cluster's; attached says it is one of
	// scripts/k8s.sh up, which the tests do not stop.
	name, state string
	attached    bool
	// runID is this run's part of every image repository the tests push,
	// so that a run on a cluster kept up counts from an empty repository.
	runID = "run" + strconv.FormatInt(time.Now().Unix(), 36)
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	repo, tools := testenv.RepoRoot(), testenv.ToolsDir()
	tmp, err := os.MkdirTemp("", "nixbp-k8s-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	name, state = fmt.Sprintf("nixbp-k8s-%d", os.Getpid()), filepath.Join(tmp, "state")
	if n, d := os.Getenv("NIXBP_K8S_NAME"), os.Getenv("NIXBP_K8S_DIR"); n != "" && d != "" {
		// A cluster of scripts/k8s.sh up, kept running (working on the tests).
		name, state, attached = n, d, true
		cluster, startErr = k8s.Attach(repo, tools, name, state)
		return m.Run()
	}
	start(repo, tools)
	code := m.Run()
	if cluster != nil {
		// The tests run in parallel, so this check is here, after all of
		// them, rather than in a test: it fails the package all the same.
		left, err := stop()
		if err != nil || len(left) > 0 {
			fmt.Printf("FAIL: scripts/k8s.sh down: %v; left on the host:\n  %s\n", err, strings.Join(left, "\n  "))
			return 1
		}
		fmt.Printf("k8s: scripts/k8s.sh down left nothing on the host: no process in the cluster's network namespace or "+
			"running its binaries, no mount, rule, interface or cgroup of it, sysctls as before (%s)\n", strings.Join(before.Sysctls, " "))
	}
	return code
}

// start builds what the cluster needs (scripts/k8s.sh build: nothing when
// scripts/setup.sh built it, waiting for it when setup builds it in the
// background) and starts it.
func start(repo, tools string) {
	if os.Geteuid() != 0 {
		missing = "the cluster's namespaces need root"
		return
	}
	for _, p := range []string{"nsenter", "unshare", "ip", "iptables", "/usr/lib/cni/bridge", "git"} {
		if _, err := exec.LookPath(p); err != nil {
			missing = p + " is not installed (scripts/setup.sh installs it)"
			return
		}
	}
	removeStale(repo, tools)
	began := time.Now()
	build := exec.Command(filepath.Join(repo, "scripts", "k8s.sh"), "build")
	build.Env = append(os.Environ(), "NIXBP_TOOLS_DIR="+tools)
	if out, err := build.CombinedOutput(); err != nil {
		startErr = fmt.Errorf("scripts/k8s.sh build: %v\n%s", err, out)
		return
	}
	built := time.Now()
	before = k8s.Snapshot(name, state, tools)
	cluster, startErr = k8s.Start(repo, tools, name, state)
	fmt.Fprintf(os.Stderr, "k8s: tools ready in %s, cluster %s with Tekton and kpack up in %s\n",
		built.Sub(began).Round(time.Second), name, time.Since(built).Round(time.Second))
}

// removeStale runs scripts/k8s.sh down for the clusters of earlier test
// runs that were killed before they could (their node died with them, but
// their cgroups and state stay): state directories under the temporary
// directory this package makes, whose node no longer runs.
func removeStale(repo, tools string) {
	states, _ := filepath.Glob(filepath.Join(os.TempDir(), "nixbp-k8s-test-*", "state", ".nixbp-k8s-state"))
	for _, marker := range states {
		dir := filepath.Dir(marker)
		name, err := os.ReadFile(filepath.Join(dir, "name"))
		if err != nil {
			continue
		}
		if pid, err := os.ReadFile(filepath.Join(dir, "node.pid")); err == nil {
			if _, err := os.Stat("/proc/" + strings.TrimSpace(string(pid))); err == nil {
				continue // it runs: another test run's
			}
		}
		down := exec.Command(filepath.Join(repo, "scripts", "k8s.sh"), "down")
		down.Env = append(os.Environ(), "NIXBP_K8S_NAME="+strings.TrimSpace(string(name)), "NIXBP_K8S_DIR="+dir, "NIXBP_TOOLS_DIR="+tools)
		out, err := down.CombinedOutput()
		fmt.Fprintf(os.Stderr, "k8s: the cluster of a killed run, %s: %s%v\n", dir, out, err)
		if err == nil {
			_ = os.RemoveAll(filepath.Dir(dir))
		}
	}
}

// stop stops the cluster and lists what it left on the host.
func stop() ([]string, error) {
	if cacheS3 != nil {
		cacheS3.Stop()
		_ = os.RemoveAll(cacheS3.Dir)
	}
	if theBuilder != nil {
		_ = os.RemoveAll(theBuilder.dir)
	}
	err := cluster.Stop()
	cluster = nil
	return before.Diff(k8s.Snapshot(name, state, testenv.ToolsDir())), err
}

// need returns the cluster, or ends the test: skipped for a missing
// prerequisite outside CI, failed when the cluster did not start.
func need(t *testing.T) *k8s.Cluster {
	t.Helper()
	if missing != "" {
		testenv.Missing(t, missing)
	}
	if startErr != nil {
		t.Fatalf("the cluster did not start: %v", startErr)
	}
	if cluster == nil {
		t.Fatal("no cluster")
	}
	return cluster
}
