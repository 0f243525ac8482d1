// Package k8s runs the buildpack where teams that outgrow one machine build
// images: on a real Kubernetes (k3s) with Tekton Pipelines' catalog
// buildpacks task and kpack, pushing to a real registry, sharing a closure
// cache on a real S3 server. scripts/k8s.sh makes the cluster inside network,
// mount and PID namespaces of its own; this package starts it for a test run,
// talks to it from inside its network namespace and checks that stopping it
// leaves the host as it was.
package k8s

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nix-buildpack/nix-buildpack/e2e/registry"
)

// Cluster is a running node of scripts/k8s.sh: k3s with Tekton and kpack
// installed, and the registry, in the node's namespaces.
type Cluster struct {
	// Name names the cluster (its node and its cgroups).
	Name string
	// State is its state directory: logs, registry storage, kubeconfig.
	State string
	// Repo is the checkout, Tools its tools directory.
	Repo, Tools string
	// Env is scripts/k8s/env.sh: the pinned versions and the addresses,
	// which exist only inside the cluster's network namespace.
	Env map[string]string
	// NodeIP is the node's address; Reg the registry's (host:port), the
	// registry part of every image reference.
	NodeIP, Reg string
	// Registry counts what the cluster's registry stored and received (its
	// storage and access log are files of the state directory).
	Registry *registry.Registry
	node     *exec.Cmd
	netns    string
}

// Start starts a node (`scripts/k8s.sh node`) as a child of this process,
// which the kernel kills if this process dies first, so that no cluster
// outlives its test run; then installs Tekton and kpack and waits until they
// serve. The tools must be built (`scripts/k8s.sh build`).
func Start(repo, tools, name, state string) (*Cluster, error) {
	env, err := ReadEnv(repo)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Name: name, State: state, Repo: repo, Tools: tools, Env: env, NodeIP: env["NODE_IP"], Reg: env["NODE_IP"] + ":5000",
		Registry: &registry.Registry{Host: env["NODE_IP"] + ":5000", Storage: filepath.Join(state, "registry", "storage"),
			Log: filepath.Join(state, "registry", "registry.log")}}
	if err := os.MkdirAll(filepath.Dir(state), 0o755); err != nil {
		return nil, err
	}
	log, err := os.Create(state + ".node.log")
	if err != nil {
		return nil, err
	}
	defer log.Close()
	c.node = c.script("node")
	c.node.Stdout, c.node.Stderr = log, log
	c.node.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := c.node.Start(); err != nil {
		return nil, err
	}
	c.netns = "/proc/" + strconv.Itoa(c.node.Process.Pid) + "/ns/net"
	if out, err := c.script("install").CombinedOutput(); err != nil {
		c.Stop()
		node, _ := os.ReadFile(state + ".node.log")
		return nil, fmt.Errorf("scripts/k8s.sh install: %v\n%s\n%s", err, out, node)
	}
	if err := c.checkNetns(); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// Attach uses a cluster that `scripts/k8s.sh up` started with that name and
// state directory (for working on the tests: no start, no stop).
func Attach(repo, tools, name, state string) (*Cluster, error) {
	env, err := ReadEnv(repo)
	if err != nil {
		return nil, err
	}
	pid, err := os.ReadFile(filepath.Join(state, "node.pid"))
	if err != nil {
		return nil, fmt.Errorf("no cluster runs in %s (scripts/k8s.sh up)\n%w", state, err)
	}
	c := &Cluster{Name: name, State: state, Repo: repo, Tools: tools, Env: env, NodeIP: env["NODE_IP"], Reg: env["NODE_IP"] + ":5000",
		Registry: &registry.Registry{Host: env["NODE_IP"] + ":5000", Storage: filepath.Join(state, "registry", "storage"),
			Log: filepath.Join(state, "registry", "registry.log")},
		netns: "/proc/" + strings.TrimSpace(string(pid)) + "/ns/net"}
	return c, c.checkNetns()
}

// checkNetns checks that the node's network namespace is the one its state
// directory recorded (not the host's, not a reused process id's).
func (c *Cluster) checkNetns() error {
	want, err := os.ReadFile(filepath.Join(c.State, "netns.ino"))
	if err != nil {
		return fmt.Errorf("the node recorded no network namespace\n%w", err)
	}
	fi, err := os.Stat(c.netns)
	if err != nil {
		return fmt.Errorf("the node is gone\n%w", err)
	}
	if got := fmt.Sprint(inode(fi)); got != strings.TrimSpace(string(want)) {
		return fmt.Errorf("%s is network namespace %s, not the node's %s", c.netns, got, strings.TrimSpace(string(want)))
	}
	return nil
}

// script is scripts/k8s.sh with this cluster's name, state and tools.
func (c *Cluster) script(args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(c.Repo, "scripts", "k8s.sh"), args...)
	cmd.Env = append(os.Environ(), "NIXBP_K8S_NAME="+c.Name, "NIXBP_K8S_DIR="+c.State, "NIXBP_TOOLS_DIR="+c.Tools)
	return cmd
}

// Stop ends the node and runs `scripts/k8s.sh down`, which removes what is
// left (processes still in the network namespace, cgroups, the state).
func (c *Cluster) Stop() error {
	if c.node != nil && c.node.Process != nil {
		_ = c.node.Process.Kill()
		_ = c.node.Wait()
	}
	out, err := c.script("down").CombinedOutput()
	if err != nil {
		return fmt.Errorf("scripts/k8s.sh down: %v\n%s", err, out)
	}
	return nil
}

// Command is a command run inside the cluster's network namespace (and the
// host's mount namespace: it sees the host's files).
func (c *Cluster) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"--net=" + c.netns, "--", name}, args...)...)
}

// Kubectl runs kubectl against the cluster and returns its output.
func (c *Cluster) Kubectl(args ...string) (string, error) {
	return c.kubectl(nil, args...)
}

// Apply applies the manifests in yaml.
func (c *Cluster) Apply(yaml string) error {
	_, err := c.kubectl(strings.NewReader(yaml), "apply", "-f", "-")
	return err
}

func (c *Cluster) kubectl(stdin *strings.Reader, args ...string) (string, error) {
	// k3s is kubectl when called by that name (scripts/k8s/node.sh links it).
	kubectl := filepath.Join(c.State, "bin", "kubectl")
	cmd := c.Command(kubectl, append([]string{"--kubeconfig", filepath.Join(c.State, "kubeconfig")}, args...)...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String(), nil
}

// HTTP is a client whose connections are made inside the cluster's network
// namespace: it reaches pods and services, and nothing else.
func (c *Cluster) HTTP() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialIn(c.netns), DisableKeepAlives: true}}
}

// Get polls url (from inside the cluster's network namespace) until it
// answers or within passes, and returns the status and body.
func (c *Cluster) Get(url string, within time.Duration) (int, string, error) {
	client := c.HTTP()
	deadline := time.Now().Add(within)
	for {
		resp, err := client.Get(url)
		if err == nil {
			var b bytes.Buffer
			_, rerr := b.ReadFrom(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, b.String(), rerr
		}
		if time.Now().After(deadline) {
			return 0, "", fmt.Errorf("no answer from %s within %s: %v", url, within, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// ReadEnv reads the plain NAME=VALUE lines of scripts/k8s/env.sh.
func ReadEnv(repo string) (map[string]string, error) {
	p := filepath.Join(repo, "scripts", "k8s", "env.sh")
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("unable to read %s\n%w", p, err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && !strings.HasPrefix(k, "#") && !strings.ContainsAny(v, "$ ") {
			env[k] = v
		}
	}
	for _, k := range []string{"NODE_IP", "K3S_VERSION", "KPACK_VERSION", "TEKTON_VERSION"} {
		if env[k] == "" {
			return nil, fmt.Errorf("%s: no %s=VALUE line", p, k)
		}
	}
	return env, nil
}
