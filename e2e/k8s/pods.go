package k8s

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/nix-buildpack/nix-buildpack/e2e/registry"
)

// Condition polls a resource's condition (Ready, Succeeded) until it is True
// or False, or within passes. It returns the condition's status, reason and
// message; kubectl wait would wait out a False until its timeout.
func (c *Cluster) Condition(resource, condition string, within time.Duration) (status, reason, message string, err error) {
	deadline := time.Now().Add(within)
	jsonpath := fmt.Sprintf(`{.status.conditions[?(@.type=="%s")].status}|{.status.conditions[?(@.type=="%s")].reason}|{.status.conditions[?(@.type=="%s")].message}`,
		condition, condition, condition)
	for {
		out, kerr := c.Kubectl("get", resource, "-o", "jsonpath="+jsonpath)
		if kerr == nil {
			parts := strings.SplitN(out, "|", 3)
			if len(parts) == 3 && (parts[0] == "True" || parts[0] == "False") {
				return parts[0], parts[1], parts[2], nil
			}
		}
		if time.Now().After(deadline) {
			return "", "", "", fmt.Errorf("%s: no %s condition True or False within %s (last: %q, %v)", resource, condition, within, out, kerr)
		}
		time.Sleep(2 * time.Second)
	}
}

// Pod is a pod the tests run an image in.
type Pod struct {
	Name, IP string
}

// RunPod runs image as a pod (one container, as the image says: its user,
// entrypoint and environment), with the pod's seccomp profile set to
// seccomp unless it is "" (then the kubelet's default, Unconfined), and
// waits until it runs.
func (c *Cluster) RunPod(podName, image, seccomp string) (*Pod, error) {
	sc := ""
	if seccomp != "" {
		sc = fmt.Sprintf("\n  securityContext: {seccompProfile: {type: %s}}", seccomp)
	}
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: default}
spec:%s
  containers: [{name: app, image: %q, ports: [{containerPort: 8080}]}]
`, podName, sc, image)
	if err := c.Delete("pod/" + podName); err != nil {
		return nil, err
	}
	if err := c.Apply(manifest); err != nil {
		return nil, err
	}
	// A pod is not Ready while it starts: wait for True, not for an end.
	if _, err := c.Kubectl("wait", "--for=condition=Ready", "pod/"+podName, "--timeout=300s"); err != nil {
		desc, _ := c.Kubectl("describe", "pod", podName)
		logs, _ := c.Kubectl("logs", podName)
		return nil, fmt.Errorf("%v\n%s\n%s", err, desc, logs)
	}
	ip, err := c.Kubectl("get", "pod", podName, "-o", "jsonpath={.status.podIP}")
	if err != nil {
		return nil, err
	}
	return &Pod{Name: podName, IP: ip}, nil
}

// Delete deletes the resources (kind/name) if they exist, and waits until
// they are gone: the tests run again on a cluster kept up.
func (c *Cluster) Delete(resources ...string) error {
	_, err := c.Kubectl(append([]string{"delete", "--ignore-not-found", "--wait=true", "--timeout=120s"}, resources...)...)
	return err
}

// Logs is the output of a pod's containers, init containers first, each
// line prefixed with [container]. Those that never started have none
// (kubectl logs --all-containers would give nothing at all then).
func (c *Cluster) Logs(podName string) string {
	names, err := c.Kubectl("get", "pod", podName, "-o", "jsonpath={.spec.initContainers[*].name} {.spec.containers[*].name}")
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, name := range strings.Fields(names) {
		out, err := c.Kubectl("logs", podName, "-c", name)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
			fmt.Fprintf(&b, "[%s] %s\n", name, line)
		}
	}
	return b.String()
}

// Pull reads an image's manifest and configuration from the cluster's
// registry, from inside its network namespace.
func (c *Cluster) Pull(ref string) (*registry.Pulled, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(r, remote.WithTransport(&http.Transport{DialContext: dialIn(c.netns)}))
	if err != nil {
		return nil, fmt.Errorf("unable to pull %s\n%w", ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	return &registry.Pulled{Image: img, Config: cf}, nil
}
