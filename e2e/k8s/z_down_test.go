package k8s_test

import (
	"strings"
	"testing"
)

// TestDown stops the cluster (scripts/k8s.sh down) and checks that it left
// nothing on the host: no process in its network namespace or running its
// binaries, no mount, no iptables or nftables rule of Kubernetes or the
// CNI plugins, no interface, no network namespace, no cgroup, no sysctl
// changed, none of the paths k3s and kubelet write by default. It runs last
// (its file sorts last); if it does not run, TestMain stops the cluster and
// checks the same.
func TestDown(t *testing.T) {
	need(t)
	left, err := stop()
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Fatalf("the cluster left on the host:\n  %s", strings.Join(left, "\n  "))
	}
	t.Logf("nothing left: %d processes, %d mounts, %d rules, %d links of the cluster's kind before and after; sysctls %s",
		len(before.Processes), len(before.Mounts), len(before.Rules), len(before.Links), strings.Join(before.Sysctls, " "))
}
