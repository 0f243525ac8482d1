#!/usr/bin/env bash
# Installs everything the tests and the demo need on a fresh Debian 12
# machine (run as root): Debian packages, then the pinned tools built from
# the Go module proxy into .tools/ (cached there between runs), then the
# Nix installer tarball fixture. Idempotent.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

packages=(nix-bin proot bubblewrap rsync busybox-static patchelf xz-utils zstd util-linux python3-seccomp)
# scripts/proot.sh builds the bundled static proot from Debian sources.
packages+=(gcc make patch curl binutils file libc6-dev)
# The Docker end-to-end tests (e2e/docker) run their own dockerd, and make
# their stock images' Debian root with debootstrap.
packages+=(docker.io debootstrap)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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

echo "setup: the bundled static proot into .tools/proot (cached)"
"$root/scripts/proot.sh" "${NIXBP_TOOLS_DIR:-$root/.tools}/proot"

echo "setup: Nix installer tarball fixture"
"$root/fixtures/nix-tarball/make.sh" "${NIXBP_TOOLS_DIR:-$root/.tools}/fixtures/nix-tarball" >/dev/null

echo "setup: Debian root of the stock Docker images (cached)"
"$root/scripts/docker/stock-images.sh" rootfs >/dev/null

echo "setup: Debian root of the platform clients' images (cached)"
"$root/scripts/docker/client-images.sh" rootfs >/dev/null
