#!/usr/bin/env bash
# Runs a private Docker daemon for the Docker end-to-end tests, the demo and
# the benchmark, apart from any system one: its images and caches live in
# .tools/docker (kept between runs, so reruns are fast), its socket and
# runtime state in a short directory under /tmp. Needs root and docker.io.
# Usage:
#   scripts/docker/dockerd.sh start   # idempotent; prints DOCKER_HOST=...
#   scripts/docker/dockerd.sh stop    # stops it if this script started it
#   scripts/docker/dockerd.sh env     # prints DOCKER_HOST=...
# NIXBP_DOCKER_BRIDGE="NAME CIDR" (e.g. "nixbp1 172.30.1.1/24") gives the
# daemon a bridge of its own instead of docker0, so that several daemons
# (several checkouts, each with its own NIXBP_DOCKER_DIR) can run at once.
# NIXBP_DOCKER_BRIDGE=none starts it with no bridge and no iptables rules at
# all, for tests whose containers all run with --network none.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="${NIXBP_DOCKER_DIR:-${NIXBP_TOOLS_DIR:-$root/.tools}/docker}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
# Unix socket paths are limited to 108 bytes: keep the runtime state short.
run="/tmp/nixbp-dockerd-$(printf %s "$dir" | sha256sum | cut -c1-12)"
sock="$run/docker.sock"
export DOCKER_HOST="unix://$sock"

alive() { [ -S "$sock" ] && docker version >/dev/null 2>&1; }

case "${1:-}" in
  start)
    if ! alive; then
      command -v dockerd >/dev/null || { echo "dockerd.sh: dockerd is not installed (apt-get install docker.io)" >&2; exit 1; }
      mkdir -p "$run" "$dir/data"
      # A daemon that died leaves its pid file; dockerd refuses to start over it.
      if [ -f "$run/docker.pid" ] && ! kill -0 "$(cat "$run/docker.pid")" 2>/dev/null; then
        rm -f "$run/docker.pid"
      fi
      bridge=()
      if [ "${NIXBP_DOCKER_BRIDGE:-}" = none ]; then
        bridge=(--bridge none --iptables=false)
      elif [ -n "${NIXBP_DOCKER_BRIDGE:-}" ]; then
        read -r bname bcidr <<<"$NIXBP_DOCKER_BRIDGE"
        if ! ip link show "$bname" >/dev/null 2>&1; then
          ip link add "$bname" type bridge
          ip addr add "$bcidr" dev "$bname"
          ip link set "$bname" up
        fi
        bridge=(--bridge "$bname")
      fi
      # Two daemons starting at once race on Docker's iptables chains.
      exec 9>/tmp/nixbp-dockerd.lock
      flock 9
      setsid dockerd "${bridge[@]}" --data-root "$dir/data" --exec-root "$run/exec" --pidfile "$run/docker.pid" \
        -H "$DOCKER_HOST" >"$dir/dockerd.log" 2>&1 < /dev/null 9>&- &
      for _ in $(seq 1 300); do
        alive && break
        kill -0 $! 2>/dev/null || { echo "dockerd.sh: dockerd exited; its log:" >&2; tail -20 "$dir/dockerd.log" >&2; exit 1; }
        sleep 0.1
      done
      alive || { echo "dockerd.sh: dockerd did not answer on $sock within 30 s" >&2; exit 1; }
      exec 9>&-
    fi
    echo "DOCKER_HOST=$DOCKER_HOST"
    ;;
  stop)
    if [ -f "$run/docker.pid" ]; then
      pid="$(cat "$run/docker.pid")"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    ;;
  env) echo "DOCKER_HOST=$DOCKER_HOST" ;;
  *) echo "usage: scripts/docker/dockerd.sh start|stop|env" >&2; exit 2 ;;
esac
