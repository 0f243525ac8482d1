#!/usr/bin/env bash
# Builds the programs the Kubernetes end-to-end tests run (k3s, runc, crane)
# from the Go module proxy into the tools directory, each keyed by its version
# and built once. Nothing here starts anything.
# Usage: scripts/k8s/tools.sh k3s|runc|crane|all
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
tools="${NIXBP_TOOLS_DIR:-$root/.tools}"
. "$root/scripts/k8s/env.sh"
mkdir -p "$tools/bin" "$tools/src"

# module_source MOD@VERSION DEST: a writable copy of the module's source (k3s
# has replace directives: it cannot be `go install`ed, only built in place).
module_source() {
  local dir
  [ -f "$tools/go.mod" ] || (cd "$tools" && go mod init nixbp-tools >/dev/null 2>&1)
  dir="$(cd "$tools" && GOFLAGS=-mod=mod go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  [ -n "$dir" ] || { echo "k8s/tools.sh: go mod download $1 gave no source directory" >&2; exit 1; }
  rm -rf "$2" && cp -r "$dir" "$2" && chmod -R u+w "$2"
}

# k3s: the server with its embedded containerd (build tag ctrd), as k3s's
# scripts/build makes it but without the data tarball (runc and the CNI
# plugins come from elsewhere). The version stamps are what kubelet and the
# apiserver refuse to start without. The manifests k3s would embed and the
# containerd template it would render are kept beside the binary.
K3S_TAGS="ctrd netcgo osusergo providerless urfave_cli_no_docs sqlite_omit_load_extension apparmor seccomp"
build_k3s() {
  local out="$tools/k3s-$K3S_VERSION"
  [ -x "$out/k3s" ] && return 0
  local src="$tools/src/k3s-$K3S_VERSION" v="$K3S_VERSION"
  module_source "github.com/k3s-io/k3s@$K3S_MODULE_VERSION" "$src"
  local pkg=github.com/k3s-io/k3s/pkg/version c=k8s.io/client-go/pkg/version b=k8s.io/component-base/version
  local ld="-w -s -X $pkg.Version=$v -X $pkg.GitCommit=${K3S_MODULE_VERSION##*-} -X $pkg.UpstreamGolang=$(go env GOVERSION)
    -X $c.gitVersion=$v -X $b.gitVersion=$v -X $c.gitTreeState=clean -X $b.gitTreeState=clean
    -X $c.gitMajor=1 -X $b.gitMajor=1 -X $c.gitMinor=35 -X $b.gitMinor=35
    -X github.com/containerd/containerd/v2/version.Version=$K3S_CONTAINERD_VERSION"
  rm -rf "$out.tmp" && mkdir -p "$out.tmp/manifests"
  # One go build for both: the packages they share compile once, the links
  # run side by side. The shim is the one containerd starts for each pod:
  # k3s's containerd fork's (k3s's go.mod replaces containerd), as k3s's
  # scripts/build makes it and its data tarball ships it beside runc.
  (cd "$src" && CGO_ENABLED=1 go build -buildvcs=false -tags "$K3S_TAGS" -ldflags "$ld" -o "$out.tmp/" \
    ./cmd/server github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2)
  mv "$out.tmp/server" "$out.tmp/k3s"
  cp "$src/manifests/rolebindings.yaml" "$src/manifests/ccm.yaml" "$src/manifests/runtimes.yaml" "$out.tmp/manifests/"
  cp "$src/pkg/agent/templates/templates.go" "$out.tmp/templates.go"
  rm -rf "$out" && mv "$out.tmp" "$out"
  rm -rf "$src"
}

# build_shim adds the shim to a k3s directory made without it.
build_shim() {
  local out="$tools/k3s-$K3S_VERSION/containerd-shim-runc-v2"
  [ -x "$out" ] && return 0
  local src="$tools/src/k3s-shim-$K3S_VERSION"
  module_source "github.com/k3s-io/k3s@$K3S_MODULE_VERSION" "$src"
  (cd "$src" && CGO_ENABLED=1 go build -buildvcs=false -tags "$K3S_TAGS" -ldflags "-w -s" \
    -o "$out.tmp" github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2)
  mv "$out.tmp" "$out"
  rm -rf "$src"
}

# runc, k3s's pin, with seccomp (libseccomp-dev): pods run under
# RuntimeDefault need it.
build_runc() {
  local out="$tools/bin/runc-$RUNC_VERSION"
  [ -x "$out" ] && return 0
  local src="$tools/src/runc-$RUNC_VERSION"
  module_source "github.com/opencontainers/runc@v$RUNC_VERSION" "$src"
  (cd "$src" && CGO_ENABLED=1 go build -buildvcs=false -tags seccomp -ldflags "-s -w -X main.version=$RUNC_VERSION" -o "$out.tmp" .)
  mv "$out.tmp" "$out"
  rm -rf "$src"
}

build_crane() {
  local out="$tools/bin/crane-$CRANE_VERSION"
  [ -x "$out" ] && return 0
  local src="$tools/src/crane-$CRANE_VERSION"
  module_source "github.com/google/go-containerregistry@v$CRANE_VERSION" "$src"
  (cd "$src" && CGO_ENABLED=0 go build -buildvcs=false -ldflags "-s -w" -o "$out.tmp" ./cmd/crane)
  mv "$out.tmp" "$out"
  rm -rf "$src"
}

# go_binaries MODULE@VERSION OUT LDFLAGS CMD...: static binaries of a
# module's commands into OUT, and the module's release configuration
# (config/) beside them. Tekton and kpack publish their images with ko
# (one static Go binary on a distroless base); the images are made from
# these binaries by scripts/k8s/images.sh.
go_binaries() {
  local mod="$1" out="$2" ld="$3"; shift 3
  [ -f "$out/.done" ] && return 0
  local src="$tools/src/$(basename "$out")"
  module_source "$mod" "$src"
  rm -rf "$out.tmp" && mkdir -p "$out.tmp/bin"
  local c pkgs=()
  for c in "$@"; do pkgs+=("./cmd/$c"); done
  # One go build for all: shared packages compile once, links run side by side.
  (cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -buildvcs=false -trimpath -ldflags "-s -w $ld" -o "$out.tmp/bin/" "${pkgs[@]}")
  for c in "$@"; do
    if [ -d "$src/cmd/$c/kodata" ]; then mkdir -p "$out.tmp/kodata/$c" && cp -rL "$src/cmd/$c/kodata/." "$out.tmp/kodata/$c/"; fi
  done
  cp -r "$src/config" "$out.tmp/config"
  touch "$out.tmp/.done"
  rm -rf "$out" && mv "$out.tmp" "$out"
  rm -rf "$src"
}

# Tekton Pipelines: the controller, its webhook and the images it puts in
# every TaskRun pod (entrypoint, nop, workingdirinit, sidecarlogresults).
build_tekton() {
  go_binaries "github.com/tektoncd/pipeline@v$TEKTON_VERSION" "$tools/tekton-$TEKTON_VERSION" \
    "" \
    controller webhook entrypoint nop workingdirinit sidecarlogresults
}

# kpack: the controller, its webhook and the images of a build pod.
build_kpack() {
  go_binaries "github.com/pivotal/kpack@v$KPACK_VERSION" "$tools/kpack-$KPACK_VERSION" \
    "-X github.com/pivotal/kpack/cmd.Version=$KPACK_VERSION" \
    controller webhook build-init build-waiter rebase completion
}

# pause: the pod sandbox's process, Kubernetes' build/pause (a static C
# program) from the Kubernetes fork k3s builds with; no registry serves it here.
build_pause() {
  local out="$tools/bin/pause-$PAUSE_VERSION"
  [ -x "$out" ] && return 0
  local dir
  dir="$(cd "$tools" && GOFLAGS=-mod=mod go mod download -json "github.com/k3s-io/kubernetes@$K3S_KUBERNETES_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  gcc -Os -static -DVERSION="$PAUSE_VERSION" -o "$out.tmp" "$dir/build/pause/linux/pause.c"
  mv "$out.tmp" "$out"
}

case "${1:-all}" in
  k3s) build_k3s; build_shim ;;
  runc) build_runc ;;
  crane) build_crane ;;
  tekton) build_tekton ;;
  kpack) build_kpack ;;
  pause) build_pause ;;
  all) build_crane; build_runc; build_pause; build_tekton; build_kpack; build_k3s; build_shim ;;
  *) echo "usage: scripts/k8s/tools.sh k3s|runc|crane|tekton|kpack|pause|all" >&2; exit 2 ;;
esac
