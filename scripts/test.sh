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
"$root/scripts/setup.sh"
cd "$root"
export CI="${CI:-true}"
go vet ./...
"${NIXBP_TOOLS_DIR:-$root/.tools}/bin/staticcheck" ./...
go test -count=1 -timeout 60m ./... "$@"
