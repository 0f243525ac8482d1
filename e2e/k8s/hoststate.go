package k8s

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// HostState is what a cluster could leave behind on the host, as seen from
// this process: what `scripts/k8s.sh down` must restore. Other work runs on
// the same machine at the same time (Docker daemons of other tests), so
// mounts, rules and interfaces are narrowed to those a cluster makes.
type HostState struct {
	// Mounts are mountinfo lines naming the state, k3s, kubelet, CNI or
	// network namespace paths.
	Mounts []string
	// Rules are iptables, ip6tables and nftables lines of Kubernetes, the
	// CNI plugins or the cluster's addresses, in the host's namespace.
	Rules []string
	// Links are the host's interfaces and addresses of the cluster's kind
	// (cni0, veth, nixbp0, 10.4x.) and its named network namespaces.
	Links []string
	// Sysctls are those kubelet, k3s and kube-proxy set, with their values.
	Sysctls []string
	// Paths are the files k3s, kubelet and the CNI plugins write by
	// default, and the cluster's cgroups, that exist.
	Paths []string
	// Processes are those in the cluster's network namespace or running
	// its binaries.
	Processes []string
}

// clusterWords are what a cluster puts in rules, mounts and links.
var clusterWords = []string{"KUBE-", "CNI-", "cni0", "nixbp0", "10.41.", "10.42.", "10.43.", "/run/k3s", "kubelet",
	"rancher", "/var/lib/cni", "/run/netns/cni-", "nixbp-k8s"}

func matchesCluster(line, state, name string) bool {
	if strings.Contains(line, state) || strings.Contains(line, name) {
		return true
	}
	for _, w := range clusterWords {
		if strings.Contains(line, w) {
			return true
		}
	}
	return false
}

// Snapshot reads the host's state for a cluster of that name and state
// directory whose binaries are under tools.
func Snapshot(name, state, tools string) HostState {
	var h HostState
	if data, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if matchesCluster(l, state, name) {
				h.Mounts = append(h.Mounts, strings.Join(strings.Fields(l)[3:5], " "))
			}
		}
	}
	for _, cmd := range [][]string{{"iptables-save"}, {"ip6tables-save"}, {"iptables-legacy-save"}, {"nft", "list", "ruleset"}} {
		out, _ := exec.Command(cmd[0], cmd[1:]...).Output()
		for _, l := range strings.Split(string(out), "\n") {
			if matchesCluster(l, state, name) {
				h.Rules = append(h.Rules, cmd[0]+": "+l)
			}
		}
	}
	for _, cmd := range [][]string{{"ip", "-o", "link"}, {"ip", "-o", "addr"}, {"ip", "netns", "list"}} {
		out, _ := exec.Command(cmd[0], cmd[1:]...).Output()
		for _, l := range strings.Split(string(out), "\n") {
			if matchesCluster(l, state, name) || strings.Contains(l, "veth") && strings.Contains(l, "cni") {
				h.Links = append(h.Links, l)
			}
		}
	}
	for _, s := range []string{"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
		"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes", "net/ipv4/ip_forward", "net/ipv4/conf/all/forwarding",
		"net/ipv4/conf/all/route_localnet", "net/bridge/bridge-nf-call-iptables", "net/netfilter/nf_conntrack_max",
		"net/netfilter/nf_conntrack_tcp_timeout_established", "net/netfilter/nf_conntrack_tcp_timeout_close_wait"} {
		v, err := os.ReadFile(filepath.Join("/proc/sys", s))
		if err == nil {
			h.Sysctls = append(h.Sysctls, s+"="+strings.TrimSpace(string(v)))
		}
	}
	paths := []string{state, "/etc/rancher", "/var/lib/rancher", "/var/lib/kubelet", "/var/log/pods", "/var/log/containers",
		"/var/lib/cni", "/run/k3s", "/run/containerd/runc/k8s.io"}
	cgroups, _ := filepath.Glob("/sys/fs/cgroup/*/" + name)
	for _, p := range append(paths, cgroups...) {
		if _, err := os.Lstat(p); err == nil {
			h.Paths = append(h.Paths, p)
		}
	}
	h.Processes = clusterProcesses(state, tools)
	return h
}

// clusterProcesses lists the processes in the network namespace the state
// directory records, and those running a binary of the cluster's (k3s,
// containerd's shim, runc, the registry with the state's configuration).
func clusterProcesses(state, tools string) []string {
	ino, _ := os.ReadFile(filepath.Join(state, "netns.ino"))
	var found []string
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		cmdline, err := os.ReadFile(p + "/cmdline")
		if err != nil || len(cmdline) == 0 {
			continue
		}
		args := strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " ")
		exe, _ := os.Readlink(p + "/exe")
		inNetns := false
		if len(ino) > 0 {
			if fi, err := os.Stat(p + "/ns/net"); err == nil {
				inNetns = fmt.Sprint(inode(fi)) == strings.TrimSpace(string(ino))
			}
		}
		ours := strings.HasPrefix(exe, filepath.Join(tools, "k3s-")) || strings.HasPrefix(exe, filepath.Join(tools, "bin", "runc-")) ||
			strings.Contains(args, state+"/")
		if inNetns || ours {
			found = append(found, fmt.Sprintf("%s %s", filepath.Base(p), args))
		}
	}
	return found
}

// Diff lists what after has that before did not, and the sysctls that
// changed: what a cluster left behind.
func (before HostState) Diff(after HostState) []string {
	var left []string
	add := func(kind string, b, a []string) {
		had := map[string]bool{}
		for _, x := range b {
			had[x] = true
		}
		for _, x := range a {
			if !had[x] {
				left = append(left, kind+": "+x)
			}
		}
	}
	add("mount", before.Mounts, after.Mounts)
	add("rule", before.Rules, after.Rules)
	add("link", before.Links, after.Links)
	add("sysctl", before.Sysctls, after.Sysctls)
	add("path", before.Paths, after.Paths)
	add("process", nil, after.Processes)
	sort.Strings(left)
	return left
}

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
