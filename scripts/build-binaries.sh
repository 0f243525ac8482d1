#!/usr/bin/env bash
# Builds the buildpack's static binaries for linux/ARCH into OUT/linux-ARCH:
# detect, build, compile, release (front-ends), nixbp-launch (run time),
# nixbp (user CLI). Usage: scripts/build-binaries.sh OUT [amd64|arm64]...
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:?usage: build-binaries.sh OUT [ARCH...]}"
shift
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(amd64)
version="$(sed -n 's/^  version = "\(.*\)"/\1/p' "$root/buildpack.toml" | head -1)"
for arch in "${archs[@]}"; do
  mkdir -p "$out/linux-$arch"
  for cmd in "$root"/cmd/*/; do
    name="$(basename "$cmd")"
    (cd "$root" && CGO_ENABLED=0 GOOS=linux GOARCH="$arch" go build -trimpath \
      -ldflags "-s -w -X main.version=$version" -o "$out/linux-$arch/$name" "./cmd/$name")
  done
done
