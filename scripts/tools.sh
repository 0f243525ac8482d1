#!/usr/bin/env bash
# Builds the pinned third-party tools the tests and the demo use (the CNB
# lifecycle, versitygw, pack, the distribution OCI registry) from the Go
# module proxy into .tools/, once; and the platforms' clients (Dokku's
# herokuish, Cloud Foundry's buildpackapplifecycle), which the proxy does not
# serve, from their source snapshots (NIXBP_CLIENTS_SRC, by default
# ../shared/clients or /work/shared/clients, checked against the sha256
# below).
# Usage: scripts/tools.sh lifecycle|lifecycle-arm64|versitygw|pack|registry|staticcheck|herokuish|cflifecycle|all
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
# herokuish at gliderlabs/herokuish fbc485e2 (its Makefile's VERSION), built
# as its Makefile does, with go-bindata from the proxy.
HEROKUISH_COMMIT=fbc485e
HEROKUISH_VERSION=0.11.14
HEROKUISH_SHA256=12d5fb686ed80bed5676e6ad4515125f7ceabdf893a7c96740da4c6cc9f7647d
GO_BINDATA_VERSION=v3.0.7+incompatible
# cloudfoundry/buildpackapplifecycle caaa1a0f, with the go.mod pinning
# diego-release's dependency versions (it has none of its own).
CFLIFECYCLE_COMMIT=caaa1a0
CFLIFECYCLE_SHA256=0cc545cd6415fc2ca8ff825826d7b069df974a3d9bbaa8f466389776018e2062
CFLIFECYCLE_GOMOD_SHA256=a413fb67243bd559d0f3643360c212338927ea440bd8a222e0b1448d61bf47c6
# The clients' sources: NIXBP_CLIENTS_SRC, else ../shared/clients beside the
# checkout, else /work/shared/clients (where this project's machines have them).
clients_src="${NIXBP_CLIENTS_SRC:-}"
if [ -z "$clients_src" ]; then
  clients_src=/work/shared/clients
  [ -d "$root/../shared/clients" ] && clients_src="$(cd "$root/../shared/clients" && pwd)"
fi

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

# build_lifecycle [ARCH]: the lifecycle and launcher for linux/ARCH (the
# machine's by default) into lifecycle-<version>, or
# lifecycle-<version>-linux-arm64 for arm64 on another machine (the arm64
# end-to-end test, scripts/arm64.sh).
build_lifecycle() {
  local arch="${1:-}" out="$tools/lifecycle-$LIFECYCLE_VERSION"
  [ -n "$arch" ] && out+="-linux-$arch"
  [ -x "$out/lifecycle" ] && [ -x "$out/launcher" ] && return 0
  local src="$tools/src/lifecycle-$LIFECYCLE_VERSION${arch:+-$arch}"
  module_source github.com/buildpacks/lifecycle "v$LIFECYCLE_VERSION" "$src"
  local ld="-s -w -X github.com/buildpacks/lifecycle/cmd.Version=$LIFECYCLE_VERSION"
  (cd "$src" && export CGO_ENABLED=0 ${arch:+GOARCH=$arch} && go build -ldflags "$ld" -o "$out.tmp/lifecycle" ./cmd/lifecycle \
             && go build -ldflags "$ld" -o "$out.tmp/launcher" ./cmd/launcher)
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

# client_source FILE SHA256 DEST: unpacks a client's source snapshot into
# DEST after checking it.
client_source() {
  local f="$clients_src/$1"
  [ -f "$f" ] || { echo "tools.sh: $f is missing (the platforms' client sources; set NIXBP_CLIENTS_SRC to their directory)" >&2; exit 1; }
  [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$2" ] || { echo "tools.sh: $f does not match sha256 $2" >&2; exit 1; }
  rm -rf "$3" && mkdir -p "$3"
  tar -xzf "$f" -C "$3"
}

# build_herokuish builds Dokku's herokuish as its Makefile's bindata.go and
# build targets do (static, for the Debian image of e2e/clients), beside
# its include/default_user.bash.
build_herokuish() {
  local out="$tools/herokuish-$HEROKUISH_COMMIT"
  [ -x "$out/herokuish" ] && [ -f "$out/default_user.bash" ] && return 0
  local src="$tools/src/herokuish-$HEROKUISH_COMMIT" bindata="$tools/src/go-bindata"
  client_source "herokuish-$HEROKUISH_COMMIT.tar.gz" "$HEROKUISH_SHA256" "$src"
  module_source github.com/jteeuwen/go-bindata "$GO_BINDATA_VERSION" "$bindata"
  (cd "$bindata" && go mod init github.com/jteeuwen/go-bindata >/dev/null 2>&1 && CGO_ENABLED=0 go build -o "$src/go-bindata" ./go-bindata)
  (cd "$src/herokuish" && {
    count=0
    for i in multi ruby nodejs clojure python java gradle scala php go static null; do # the Makefile's BUILDPACK_ORDER
      printf '%02d_buildpack-%s ' "$count" "$i"
      cat buildpacks/*-"$i"/buildpack* | sed 'N;s/\n/ /'
      count=$((count + 1))
    done > include/buildpacks.txt
    "$src/go-bindata" include
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -ldflags "-X main.Version=$HEROKUISH_VERSION" -o "$out.tmp/herokuish" .
    # What its Dockerfile runs to make herokuishuser, for client-images.sh.
    cp include/default_user.bash "$out.tmp/default_user.bash"
  })
  rm -rf "$out" && mv "$out.tmp" "$out"
  rm -rf "$src" "$bindata"
}

# build_cflifecycle builds Cloud Foundry's builder and launcher (what Diego
# puts in /tmp/lifecycle of staging and app containers).
build_cflifecycle() {
  local out="$tools/buildpackapplifecycle-$CFLIFECYCLE_COMMIT"
  [ -x "$out/builder" ] && [ -x "$out/launcher" ] && return 0
  local src="$tools/src/buildpackapplifecycle-$CFLIFECYCLE_COMMIT"
  client_source "buildpackapplifecycle-$CFLIFECYCLE_COMMIT.tar.gz" "$CFLIFECYCLE_SHA256" "$src"
  [ "$(sha256sum "$clients_src/buildpackapplifecycle.go.mod" | cut -d' ' -f1)" = "$CFLIFECYCLE_GOMOD_SHA256" ] ||
    { echo "tools.sh: $clients_src/buildpackapplifecycle.go.mod does not match sha256 $CFLIFECYCLE_GOMOD_SHA256" >&2; exit 1; }
  cp "$clients_src/buildpackapplifecycle.go.mod" "$src/buildpackapplifecycle/go.mod"
  (cd "$src/buildpackapplifecycle" && export GOFLAGS=-mod=mod CGO_ENABLED=0 &&
    go build -o "$out.tmp/builder" ./builder && go build -o "$out.tmp/launcher" ./launcher)
  rm -rf "$out" && mv "$out.tmp" "$out"
  rm -rf "$src"
}

# One tools.sh at a time per tools directory: scripts/setup.sh and the
# background build of the Kubernetes tests (scripts/k8s/images.sh needs the
# registry and the lifecycle) may ask for the same tool at once.
exec 9>"$tools/.tools.lock"
flock 9
[ -f "$tools/go.mod" ] || (cd "$tools" && go mod init nixbp-tools >/dev/null 2>&1)
case "${1:-all}" in
  lifecycle) build_lifecycle ;;
  lifecycle-arm64) build_lifecycle arm64 ;;
  versitygw) build_versitygw ;;
  pack) build_pack ;;
  registry) build_registry ;;
  staticcheck) build_staticcheck ;;
  herokuish) build_herokuish ;;
  cflifecycle) build_cflifecycle ;;
  all) build_lifecycle; build_versitygw; build_pack; build_registry; build_staticcheck; build_herokuish; build_cflifecycle ;;
  *) echo "usage: scripts/tools.sh lifecycle|lifecycle-arm64|versitygw|pack|registry|staticcheck|herokuish|cflifecycle|all" >&2; exit 2 ;;
esac
