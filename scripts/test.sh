#!/usr/bin/env bash
# Runs every test, after installing what they need (scripts/setup.sh), as
# on a fresh machine: everything runs through scripts/fresh-nix.sh, in a
# private mount namespace with an empty /nix of its own, and the run fails
# if the host's /nix changed meanwhile. Arguments go to `go test`.
# CI=true makes a missing prerequisite fail a test instead of skipping it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ "${NIXBP_FRESH_NIX_INSIDE:-}" != /nix ]; then
  exec "$root/scripts/fresh-nix.sh" "$0" "$@"
fi
"$root/scripts/setup.sh" --k8s-background
# The background build of the Kubernetes tests' tools (a process group of
# its own) ends with this script.
k8s_build="$(cat "${NIXBP_TOOLS_DIR:-$root/.tools}/k8s-build.pid" 2>/dev/null || true)"
stop_k8s_build() {
  if [ -n "$k8s_build" ] && ps -o args= -p "$k8s_build" | grep -q 'k8s.sh build'; then kill -- "-$k8s_build" 2>/dev/null || true; fi
}
trap stop_k8s_build EXIT
cd "$root"
export CI="${CI:-true}"
go vet ./...
"${NIXBP_TOOLS_DIR:-$root/.tools}/bin/staticcheck" ./...
go test -count=1 -timeout 60m ./... "$@"
