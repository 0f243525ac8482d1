#!/usr/bin/env bash
# Runs every test, after installing what they need (scripts/setup.sh).
# CI=true makes a missing prerequisite fail a test instead of skipping it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
cd "$root"
export CI="${CI:-true}"
go vet ./...
"${NIXBP_TOOLS_DIR:-$root/.tools}/bin/staticcheck" ./...
go test -count=1 -timeout 60m ./... "$@"
