#!/usr/bin/env bash
# The test cluster's node: process 1 of a PID namespace, in a network and a
# mount namespace of its own (scripts/k8s.sh node starts it with unshare).
# It runs the registry and k3s (apiserver, kubelet, containerd and every
# pod's shim and containers below it), so that the end of this process ends
# them all: the kernel kills every process of a PID namespace whose first
# process exits, and the namespaces' mounts, interfaces and iptables rules go
# with their last process.
#
# Nothing of the host is changed:
#  - network: loopback, a bridge with no port holding NODE_IP (as docker0
#    before its first container; these kernels have no dummy driver), a
#    default route into it (packets to any other address go nowhere), the
#    pod bridge; no interface of the host is used or reachable;
#  - files: /run is a tmpfs; /etc, /var/lib and /var/log are overlays whose
#    writes land in the state directory (k3s writes /etc/rancher, kubelet
#    /var/lib/kubelet and /var/log/pods, the CNI plugins /var/lib/cni);
#  - sysctls: those kubelet sets host-wide (vm.overcommit_memory,
#    kernel.panic, ...) are shown to it with the values it wants, read from
#    files, and it runs with --protect-kernel-defaults (it refuses to start
#    rather than write one); those of the network (ip_forward, bridge
#    netfilter, conntrack timeouts) belong to this namespace;
#  - cgroups: kubelet's are under /sys/fs/cgroup/*/<name>, which
#    scripts/k8s.sh down removes once empty;
#  - kernel modules: `modprobe` is refused (see bin/modprobe below).
# Usage: node.sh STATE-DIR (run by scripts/k8s.sh node, not by hand)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
tools="${NIXBP_TOOLS_DIR:-$root/.tools}"
. "$root/scripts/k8s/env.sh"
state="$1" name="$2"
k3s_dir="$tools/k3s-$K3S_VERSION"
log() { echo "node: $*"; }
[ "$$" = 1 ] || { echo "node.sh: not process 1 of a PID namespace (run scripts/k8s.sh up)" >&2; exit 1; }

mount -t tmpfs -o mode=0755 nixbp-k8s-run /run
for d in etc var/lib var/log; do
  o="$state/overlay/${d//\//-}"
  mkdir -p "$o/upper" "$o/work"
  mount -t overlay -o "lowerdir=/$d,upperdir=$o/upper,workdir=$o/work" nixbp-k8s-overlay "/$d"
done
# kubelet's setupKernelTunables (pkg/kubelet/cm/container_manager_linux.go)
# wants these; they are not per network namespace.
mkdir -p "$state/sysctl"
for kv in vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 \
          kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000; do
  f="$state/sysctl/${kv%%=*}"; mkdir -p "$(dirname "$f")"; echo "${kv#*=}" > "$f"
  mount --bind "$f" "/proc/sys/${kv%%=*}"
done

# kubelet's cgroups go under /<name> of each hierarchy (--cgroup-root), made
# here (kubelet wants it to exist); scripts/k8s.sh down removes them. A
# cpuset cgroup starts with no CPU and no memory node: the parent's.
for c in /sys/fs/cgroup/*/; do
  mkdir -p "$c$name"
  if [ -f "$c/cpuset.cpus" ]; then
    cat "$c/cpuset.cpus" > "$c$name/cpuset.cpus"
    cat "$c/cpuset.mems" > "$c$name/cpuset.mems"
  fi
done

ip link set lo up
ip link add nixbp0 type bridge
ip addr add "$NODE_IP/24" dev nixbp0
ip link set nixbp0 up
ip route add default dev nixbp0

"$tools/bin/registry" serve "$state/registry/config.yml" >> "$state/registry/registry.log" 2>&1 &
registry_pid=$!

# k3s runs containerd, kubectl, crictl and ctr as itself under those names
# (its data tarball links them so), runc and the shim from PATH.
bin="$state/bin"
mkdir -p "$bin"
for l in k3s containerd kubectl crictl ctr; do ln -sf "$k3s_dir/k3s" "$bin/$l"; done
ln -sf "$k3s_dir/containerd-shim-runc-v2" "$bin/containerd-shim-runc-v2"
ln -sf "$tools/bin/runc-$RUNC_VERSION" "$bin/runc"
printf '#!/bin/sh\necho "modprobe $*: refused, the test cluster loads no kernel module (scripts/k8s/node.sh)" >&2\nexit 1\n' > "$bin/modprobe"
chmod +x "$bin/modprobe"

data="$state/k3s"
mkdir -p "$data/agent/etc/containerd" "$data/server/manifests" "$state/cni/net.d"
python3 "$root/scripts/k8s/containerd-template.py" "$k3s_dir/templates.go" /usr/lib/cni "$state/cni/net.d" \
  > "$data/agent/etc/containerd/config-v3.toml.tmpl"
# k3s's build embeds these (the RBAC of its own controllers); ours does not.
cp "$k3s_dir/manifests/"*.yaml "$data/server/manifests/"
# One node, one bridge: Debian's CNI plugins, the node's pod range.
cat > "$state/cni/net.d/10-bridge.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "nixbp-k8s", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$state/cni/ipam", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
EOF
# containerd pulls from the registry over plain HTTP.
printf 'mirrors:\n  "%s":\n    endpoint: ["http://%s"]\n' "$REGISTRY" "$REGISTRY" > "$state/registries.yaml"
# Pods get a resolver that answers nothing (no cluster DNS, no network).
echo "nameserver 127.0.0.1" > "$state/resolv.conf"

PATH="$bin:/usr/lib/cni:$PATH" k3s server --data-dir "$data" --node-name "$name" --node-ip "$NODE_IP" \
  --cluster-cidr "$CLUSTER_CIDR" --service-cidr "$SERVICE_CIDR" \
  --write-kubeconfig "$state/kubeconfig" --write-kubeconfig-mode 600 \
  --private-registry "$state/registries.yaml" --pause-image "$REGISTRY/pause:$PAUSE_VERSION" \
  --disable traefik,servicelb,metrics-server,local-storage,coredns --disable-helm-controller \
  --disable-network-policy --flannel-backend none \
  --kubelet-arg fail-cgroupv1=false --kubelet-arg "cgroup-root=/$name" --kubelet-arg protect-kernel-defaults=true \
  --kubelet-arg "resolv-conf=$state/resolv.conf" --kubelet-arg image-gc-high-threshold=100 \
  --kubelet-arg "eviction-hard=memory.available<100Mi,nodefs.available<1%,imagefs.available<1%" \
  --kube-proxy-arg conntrack-max-per-core=0 \
  >> "$state/k3s.log" 2>&1 &
k3s_pid=$!
log "registry $registry_pid, k3s $k3s_pid"
# Process 1 reaps the orphans (the shims) and ends when k3s or the registry
# does; its end ends everything else.
set +e
wait -n "$k3s_pid" "$registry_pid"
log "k3s or the registry ended ($?): the node ends"
