#!/usr/bin/env bash
# Builds the pinned third-party tools the tests and the demo use (the CNB
# lifecycle, versitygw, pack, the distribution OCI registry) from the Go
# module proxy into .tools/, once.
# Usage: scripts/tools.sh lifecycle|versitygw|pack|registry|staticcheck|all
# Prints nothing but errors; the binaries land in .tools/bin.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
tools="${NIXBP_TOOLS_DIR:-$root/.tools}"
mkdir -p "$tools/bin" "$tools/src"

LIFECYCLE_VERSION=0.21.14
VERSITYGW_VERSION=1.8.0
PACK_VERSION=0.40.9
STATICCHECK_VERSION=0.8.2
REGISTRY_VERSION=3.0.0

# module_source MOD VERSION DEST: copies the module's source out of the
# module cache into DEST (writable), because `go install MOD@VER` is refused
# by this proxy for modules that need a deprecation lookup.
module_source() {
  local dir
  dir="$(cd "$tools" && GOFLAGS=-mod=mod go mod download -json "$1@$2" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  [ -n "$dir" ] || { echo "tools.sh: go mod download $1@$2 gave no source directory" >&2; exit 1; }
  rm -rf "$3"
  cp -r "$dir" "$3"
  chmod -R u+w "$3"
}

build_lifecycle() {
  local out="$tools/lifecycle-$LIFECYCLE_VERSION"
  [ -x "$out/lifecycle" ] && [ -x "$out/launcher" ] && return 0
  local src="$tools/src/lifecycle-$LIFECYCLE_VERSION"
  module_source github.com/buildpacks/lifecycle "v$LIFECYCLE_VERSION" "$src"
  local ld="-s -w -X github.com/buildpacks/lifecycle/cmd.Version=$LIFECYCLE_VERSION"
  (cd "$src" && CGO_ENABLED=0 go build -ldflags "$ld" -o "$out.tmp/lifecycle" ./cmd/lifecycle \
             && CGO_ENABLED=0 go build -ldflags "$ld" -o "$out.tmp/launcher" ./cmd/launcher)
  for n in detector analyzer restorer builder exporter rebaser creator extender; do
    ln -sf lifecycle "$out.tmp/$n"
  done
  rm -rf "$out" && mv "$out.tmp" "$out"
  rm -rf "$src"
}

build_versitygw() {
  local out="$tools/bin/versitygw-$VERSITYGW_VERSION"
  [ -x "$out" ] && return 0
  local src="$tools/src/versitygw-$VERSITYGW_VERSION"
  module_source github.com/versity/versitygw "v$VERSITYGW_VERSION" "$src"
  (cd "$src" && CGO_ENABLED=0 go build -ldflags "-s -w" -o "$out.tmp" ./cmd/versitygw)
  mv "$out.tmp" "$out"
  ln -sf "versitygw-$VERSITYGW_VERSION" "$tools/bin/versitygw"
  rm -rf "$src"
}

build_pack() {
  local out="$tools/bin/pack-$PACK_VERSION"
  [ -x "$out" ] && return 0
  local src="$tools/src/pack-$PACK_VERSION"
  module_source github.com/buildpacks/pack "v$PACK_VERSION" "$src"
  (cd "$src" && CGO_ENABLED=0 go build -ldflags "-s -w -X github.com/buildpacks/pack.Version=$PACK_VERSION" -o "$out.tmp" .)
  mv "$out.tmp" "$out"
  ln -sf "pack-$PACK_VERSION" "$tools/bin/pack"
  rm -rf "$src"
}

# build_registry builds the CNCF distribution registry (the OCI registry
# behind Docker Hub and Harbor) for the daemonless export tests.
build_registry() {
  local out="$tools/bin/registry-$REGISTRY_VERSION"
  [ -x "$out" ] && return 0
  local src="$tools/src/registry-$REGISTRY_VERSION"
  module_source github.com/distribution/distribution/v3 "v$REGISTRY_VERSION" "$src"
  (cd "$src" && rm -rf vendor && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -ldflags "-s -w -X github.com/distribution/distribution/v3/version.version=v$REGISTRY_VERSION" -o "$out.tmp" ./cmd/registry)
  mv "$out.tmp" "$out"
  ln -sf "registry-$REGISTRY_VERSION" "$tools/bin/registry"
  rm -rf "$src"
}

build_staticcheck() {
  local out="$tools/bin/staticcheck-$STATICCHECK_VERSION"
  [ -x "$out" ] && return 0
  local src="$tools/src/staticcheck-$STATICCHECK_VERSION"
  module_source honnef.co/go/tools "v$STATICCHECK_VERSION" "$src"
  (cd "$src" && CGO_ENABLED=0 go build -ldflags "-s -w" -o "$out.tmp" ./cmd/staticcheck)
  mv "$out.tmp" "$out"
  ln -sf "staticcheck-$STATICCHECK_VERSION" "$tools/bin/staticcheck"
  rm -rf "$src"
}

[ -f "$tools/go.mod" ] || (cd "$tools" && go mod init nixbp-tools >/dev/null 2>&1)
case "${1:-all}" in
  lifecycle) build_lifecycle ;;
  versitygw) build_versitygw ;;
  pack) build_pack ;;
  registry) build_registry ;;
  staticcheck) build_staticcheck ;;
  all) build_lifecycle; build_versitygw; build_pack; build_registry; build_staticcheck ;;
  *) echo "usage: scripts/tools.sh lifecycle|versitygw|pack|registry|staticcheck|all" >&2; exit 2 ;;
esac
