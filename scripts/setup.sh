#!/usr/bin/env bash
# Installs everything the tests and the demo need on a fresh Debian 12
# machine (run as root): Debian packages, then the pinned tools built from
# the Go module proxy into .tools/ (cached there between runs), then the
# Nix installer tarball fixture. Idempotent.
# --k8s-background starts the Kubernetes tests' build (scripts/k8s.sh build:
# k3s alone compiles for about 14 minutes on 2 cores) in the background and
# returns; the tests wait for it (its lock), scripts/test.sh stops it if they
# do not run. Without it, setup does not build it (the demo needs none of it);
# `go test ./e2e/k8s` and scripts/k8s.sh build it when they need it.
# The arm64 end-to-end test's own needs (qemu, binfmt, its emulated
# machine) are scripts/arm64.sh setup.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
k8s_background=""
[ "${1:-}" = --k8s-background ] && k8s_background=1

packages=(nix-bin proot bubblewrap rsync busybox-static patchelf xz-utils zstd util-linux python3-seccomp)
# scripts/proot.sh builds the bundled static proot from Debian sources,
# for arm64 with the cross compiler.
packages+=(gcc make patch curl binutils file libc6-dev gcc-aarch64-linux-gnu)
# The Docker end-to-end tests (e2e/docker) run their own dockerd, and make
# their stock images' Debian root with debootstrap.
packages+=(docker.io debootstrap)
# The Kubernetes end-to-end tests (e2e/k8s, scripts/k8s.sh): runc's seccomp,
# the CNI plugins of the pod bridge, iptables for kube-proxy, git for the
# git sources served to kpack.
packages+=(libseccomp-dev containernetworking-plugins iptables iproute2 git)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

tools="${NIXBP_TOOLS_DIR:-$root/.tools}"
mkdir -p "$tools"
if [ -n "$k8s_background" ]; then
  echo "setup: the Kubernetes tests' tools and images, in the background (log $tools/k8s-build.log)"
  setsid nice -n 5 "$root/scripts/k8s.sh" build > "$tools/k8s-build.log" 2>&1 < /dev/null &
  echo $! > "$tools/k8s-build.pid"
  # It takes the build lock before setup goes on, so the tests wait for it.
  for _ in $(seq 100); do flock -n "$tools/k8s-build.lock" true 2>/dev/null || break; sleep 0.1; done
fi

echo "setup: building pinned tools into .tools/ (cached)"
"$root/scripts/tools.sh" lifecycle
"$root/scripts/tools.sh" versitygw
"$root/scripts/tools.sh" pack
"$root/scripts/tools.sh" registry
"$root/scripts/tools.sh" staticcheck
# The platforms' clients (e2e/clients), from their source snapshots.
"$root/scripts/tools.sh" herokuish
"$root/scripts/tools.sh" cflifecycle

echo "setup: the bundled static proots into .tools/proot and .tools/proot-arm64 (cached)"
"$root/scripts/proot.sh" "${NIXBP_TOOLS_DIR:-$root/.tools}/proot"
"$root/scripts/proot.sh" "${NIXBP_TOOLS_DIR:-$root/.tools}/proot-arm64" arm64

echo "setup: Nix installer tarball fixture"
"$root/fixtures/nix-tarball/make.sh" "${NIXBP_TOOLS_DIR:-$root/.tools}/fixtures/nix-tarball" >/dev/null

echo "setup: Debian root of the stock Docker images (cached)"
"$root/scripts/docker/stock-images.sh" rootfs >/dev/null

echo "setup: Debian root of the platform clients' images (cached)"
"$root/scripts/docker/client-images.sh" rootfs >/dev/null
