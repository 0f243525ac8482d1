#!/usr/bin/env bash
# A real single-node Kubernetes (k3s) with Tekton Pipelines and kpack, and a
# CNCF distribution registry, inside network, mount and PID namespaces this
# script creates: every address of the cluster and its registry exists only
# in that network namespace, nothing listens on or sends to the host's
# interfaces, and `down` leaves nothing behind (see scripts/k8s/node.sh).
#
#   scripts/k8s.sh build            build and cache k3s, runc, crane, the pause image, Tekton's
#                                   and kpack's images, the lifecycle image (in .tools/, by version)
#   scripts/k8s.sh up               start the node, install Tekton and kpack, wait until they serve
#   scripts/k8s.sh down             stop everything (processes, mounts, cgroups, namespaces), remove the state
#   scripts/k8s.sh kubectl ARGS     kubectl against the cluster (inside its network namespace)
#   scripts/k8s.sh exec CMD...      any command inside the cluster's network namespace
#   scripts/k8s.sh test [ARGS]      build, then the Kubernetes end-to-end tests (e2e/k8s) as .ci/run runs
#                                   them: their own cluster, started and stopped; ARGS go to go test
#   scripts/k8s.sh node             the node in the foreground (what `up` starts; the tests start it so)
#   scripts/k8s.sh install          install Tekton and kpack on a node started with `node`
#
# NIXBP_K8S_NAME names the cluster (default nixbp-k8s: its cgroups, its node);
# NIXBP_K8S_DIR is its state (default /tmp/<name>): logs, the registry's
# storage, k3s's data, the kubeconfig.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export NIXBP_TOOLS_DIR="${NIXBP_TOOLS_DIR:-$root/.tools}"
tools="$NIXBP_TOOLS_DIR"
. "$root/scripts/k8s/env.sh"
name="${NIXBP_K8S_NAME:-nixbp-k8s}"
state="${NIXBP_K8S_DIR:-/tmp/$name}"
k3s="$tools/k3s-$K3S_VERSION/k3s"
log() { echo "k8s.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# build: every tool and image, under a lock: scripts/setup.sh runs it in the
# background and the tests' `build` waits for that run, then finds all made.
build() {
  mkdir -p "$tools"
  (
    flock 9
    "$root/scripts/k8s/tools.sh" all
    "$root/scripts/k8s/images.sh" >/dev/null
  ) 9> "$tools/k8s-build.lock"
}

# node_pid: the node's unshare process (its network namespace is the
# cluster's), if it runs and is the one this state directory started.
node_pid() {
  local pid ino
  pid="$(cat "$state/node.pid" 2>/dev/null)" || return 1
  ino="$(cat "$state/netns.ino" 2>/dev/null)" || return 1
  [ "$(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null)" = "$ino" ] || return 1
  echo "$pid"
}

in_netns() {
  local pid
  pid="$(node_pid)" || die "no cluster $name runs (scripts/k8s.sh up)"
  nsenter --net="/proc/$pid/ns/net" -- "$@"
}

kubectl() { in_netns "$state/bin/kubectl" --kubeconfig "$state/kubeconfig" "$@"; }

# node: the node in the foreground, until it ends or this process is killed.
node() {
  case "$state" in
    /etc|/etc/*|/var/lib|/var/lib/*|/var/log|/var/log/*|/run|/run/*|/var/run|/var/run/*)
      die "NIXBP_K8S_DIR=$state: the node overlays /etc, /var/lib and /var/log and mounts /run; put its state elsewhere" ;;
  esac
  if node_pid >/dev/null; then die "cluster $name already runs (state $state): scripts/k8s.sh down first"; fi
  cleanup
  local seed
  seed="$("$root/scripts/k8s/images.sh")"
  [ -x "$k3s" ] || die "no k3s at $k3s: scripts/k8s.sh build"
  mkdir -p "$state/registry"
  touch "$state/.nixbp-k8s-state"
  echo "$name" > "$state/name"
  cp -a "$seed/storage" "$state/registry/storage"
  cat > "$state/registry/config.yml" <<EOF
version: 0.1
log: {level: info, formatter: text, accesslog: {disabled: false}}
storage: {filesystem: {rootdirectory: $state/registry/storage}, delete: {enabled: true}}
http: {addr: "$REGISTRY"}
EOF
  echo $$ > "$state/node.pid"
  stat -L -c %i /proc/self/ns/net > "$state/netns.host"
  # unshare makes the namespaces and stays (in the new network and mount
  # namespaces) as the node's handle; its child is process 1 of the PID
  # namespace, and is killed when unshare is (--kill-child).
  exec unshare --net --mount --propagation private --pid --fork --kill-child --mount-proc \
    bash -c 'stat -L -c %i /proc/self/ns/net > "$1/netns.ino"; exec "$2" "$1" "$3"' node "$state" "$root/scripts/k8s/node.sh" "$name" \
    > "$state/node.log" 2>&1
}

# wait_ready: the node Ready and the default service account made.
wait_ready() {
  local i
  for i in $(seq 300); do
    [ -f "$state/netns.ino" ] && node_pid >/dev/null && [ -f "$state/kubeconfig" ] &&
      kubectl get nodes 2>/dev/null | grep -q " Ready" && kubectl -n default get sa default >/dev/null 2>&1 && return 0
    if [ -f "$state/node.pid" ] && ! kill -0 "$(cat "$state/node.pid")" 2>/dev/null; then
      tail -20 "$state/node.log" "$state/k3s.log" >&2 || true
      die "the node ended (logs in $state)"
    fi
    sleep 1
  done
  tail -20 "$state/k3s.log" >&2 || true
  die "node not Ready within 300 s (logs in $state)"
}

# install: Tekton Pipelines and kpack from their release manifests (the CRDs
# first: kpack's default ClusterLifecycle is a custom resource), then until
# their controllers and webhooks are available.
install() {
  wait_ready
  local seed m=()
  seed="$("$root/scripts/k8s/images.sh")"
  kubectl apply -f "$seed/tekton/100-namespace" -f "$seed/kpack/100-namespace.yaml" >/dev/null
  kubectl apply -R -f "$seed/tekton" >/dev/null
  for f in "$seed"/kpack/*.yaml; do [ "$(basename "$f")" = default_clusterlifecycle.yaml ] || m+=(-f "$f"); done
  kubectl apply "${m[@]}" >/dev/null
  kubectl wait --for=condition=Established crd --all --timeout=120s >/dev/null
  kubectl -n tekton-pipelines wait --for=condition=Available deploy --all --timeout=600s >/dev/null
  kubectl -n kpack wait --for=condition=Available deploy --all --timeout=600s >/dev/null
  # The webhook validates the lifecycle: it must serve first.
  local i
  for i in $(seq 60); do
    kubectl apply -f "$seed/kpack/default_clusterlifecycle.yaml" >/dev/null 2>&1 && break
    sleep 2
  done
  kubectl wait --for=condition=Ready clusterlifecycle/default-lifecycle --timeout=300s >/dev/null
  log "Tekton v$TEKTON_VERSION and kpack v$KPACK_VERSION serve on cluster $name (registry $REGISTRY inside its network namespace)"
}

up() {
  build
  mkdir -p "$state"
  setsid "$0" node < /dev/null > "$state.up.log" 2>&1 &
  for _ in $(seq 100); do [ -f "$state/netns.ino" ] && break; sleep 0.1; done
  install
  log "up: scripts/k8s.sh kubectl get pods -A; scripts/k8s.sh down to stop"
}

# cleanup: whatever a node of this state directory left, by id: the node,
# every process still in its network namespace (test servers), its cgroups,
# its state. Safe when nothing runs.
cleanup() {
  local pid ino p i
  ino="$(cat "$state/netns.ino" 2>/dev/null || true)"
  if pid="$(node_pid)"; then kill -KILL "$pid" 2>/dev/null || true; fi
  if [ -n "$ino" ]; then
    for i in $(seq 50); do
      local left=()
      for p in /proc/[0-9]*; do
        [ "$(stat -L -c %i "$p/ns/net" 2>/dev/null)" = "$ino" ] && left+=("${p#/proc/}")
      done
      [ ${#left[@]} -eq 0 ] && break
      kill -KILL "${left[@]}" 2>/dev/null || true
      sleep 0.2
    done
    [ ${#left[@]} -eq 0 ] || die "processes ${left[*]} are still in the cluster's network namespace"
  fi
  # kubelet's cgroups (--cgroup-root=/<name>), deepest first, once empty.
  local c
  for c in /sys/fs/cgroup/*/"$name"; do
    [ -d "$c" ] || continue
    for i in $(seq 50); do
      find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [ -d "$c" ] || break
      sleep 0.2
    done
    [ -d "$c" ] && die "cgroup $c is not empty"
  done
  # Only a directory this script made (NIXBP_K8S_DIR may name any).
  if [ -e "$state" ]; then
    if [ -f "$state/.nixbp-k8s-state" ] || [ -z "$(ls -A "$state")" ]; then
      rm -rf "$state"
    else
      die "NIXBP_K8S_DIR=$state is not a cluster's state directory (no .nixbp-k8s-state): not removing it"
    fi
  fi
}

down() { cleanup; rm -f "$state.up.log"; log "down: cluster $name stopped, $state removed"; }

case "${1:-}" in
  build) build ;;
  node) node ;;
  install) install ;;
  up) up ;;
  down) down ;;
  kubectl) shift; kubectl "$@" ;;
  exec) shift; in_netns "$@" ;;
  test)
    shift
    build
    cd "$root" && CI="${CI:-true}" "$root/scripts/fresh-nix.sh" go test -count=1 -timeout 60m ./e2e/k8s "$@" ;;
  *) sed -n '8,21p' "$0" >&2; exit 2 ;;
esac
