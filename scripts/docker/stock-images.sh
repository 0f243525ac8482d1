#!/usr/bin/env bash
# Makes "stock" base images, shaped like the builders users already have
# (a Debian/Ubuntu root, a cnb user, CNB stack labels) and unlike ours:
# no proot, no /nix, no nix-bin. The buildpack must bring everything it
# needs there (its static proot, its Nix tarball) and the app must run
# relocated, since Docker's default seccomp profile refuses user namespaces.
#   nixbp/build:stock   Debian bookworm, `debootstrap --variant=minbase`,
#                       user cnb (1000:1000)
#   nixbp/run:stock     the same root (as Paketo's base stacks, the run
#                       image is the build image's root without build tools)
# The root comes from Debian's mirror, the one network source reachable
# here, once: its tarball is cached in the tools directory, keyed by suite,
# variant, mirror, package list and the recipe below, so reruns only import
# it. snapshot.debian.org is not reachable here, so the pin is the suite;
# the point release it got is in /etc/debian_version and the image label
# io.nixbp.debian-version.
# Usage: scripts/docker/stock-images.sh [rootfs]
#   rootfs: only make the cached tarball (no Docker; scripts/setup.sh)
# Needs root and debootstrap (on a cache miss), DOCKER_HOST for the images.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
tools="${NIXBP_TOOLS_DIR:-$root/.tools}"
suite=bookworm variant=minbase mirror=http://deb.debian.org/debian
include="" # extra packages (comma-separated); none: the minimal root
stack=io.buildpacks.stacks.bookworm
uid=1000 gid=1000

# rootfs DIR: the root, with the cnb user, no apt caches (as Debian's own
# container images), and a check that nothing gives /nix a way in.
rootfs() {
  local d="$1"
  debootstrap --variant="$variant" ${include:+--include="$include"} "$suite" "$d" "$mirror" >&2
  chroot "$d" groupadd -g "$gid" cnb
  chroot "$d" useradd -u "$uid" -g "$gid" -m -s /bin/bash cnb
  rm -rf "$d"/var/cache/apt/archives/*.deb "$d"/var/cache/apt/*.bin "$d"/var/lib/apt/lists/*
  if [ -e "$d/nix" ] || chroot "$d" /bin/sh -c 'command -v proot || command -v nix || command -v nix-build'; then
    echo "stock-images.sh: the root has proot, nix or /nix; a stock image must not" >&2
    exit 1
  fi
}

key="$(printf '%s\n' "$suite" "$variant" "$mirror" "$include" "$uid" "$gid" "$(declare -f rootfs)" | sha256sum | cut -c1-16)"
cache="$tools/debian"
tarball="$cache/$suite-$variant-$key.tar.gz"

make_tarball() {
  [ -f "$tarball" ] && return 0
  mkdir -p "$cache"
  exec 9>"$cache/.lock"
  flock 9
  [ -f "$tarball" ] && return 0
  command -v debootstrap >/dev/null || { echo "stock-images.sh: debootstrap is not installed (apt-get install debootstrap, or scripts/setup.sh)" >&2; exit 1; }
  local d
  d="$(mktemp -d)"
  echo "stock-images.sh: debootstrap $variant $suite from $mirror (about 1.5 min, once)" >&2
  rootfs "$d/root"
  tar -C "$d/root" --numeric-owner -czf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  rm -rf "$d"
  exec 9>&-
}

make_tarball
[ "${1:-}" = rootfs ] && { echo "$tarball"; exit 0; }

recipe="$(cat "$0" "$tarball" | sha256sum | cut -c1-16)"
if [ "$(docker image inspect -f '{{index .Config.Labels "io.nixbp.recipe"}}' nixbp/build:stock 2>/dev/null)" != "$recipe" ] ||
  [ "$(docker image inspect -f '{{index .Config.Labels "io.nixbp.recipe"}}' nixbp/run:stock 2>/dev/null)" != "$recipe" ]; then
  version="$(tar -xzOf "$tarball" ./etc/debian_version)"
  docker import \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV CNB_USER_ID=$uid" --change "ENV CNB_GROUP_ID=$gid" --change "ENV CNB_STACK_ID=$stack" \
    --change "LABEL io.buildpacks.stack.id=$stack" \
    --change "LABEL io.buildpacks.base.distro.name=debian" \
    --change "LABEL io.buildpacks.base.distro.version=${version%%.*}" \
    --change "LABEL io.nixbp.debian-version=$version" \
    --change "LABEL io.nixbp.recipe=$recipe" \
    --change "USER $uid:$gid" \
    "$tarball" nixbp/build:stock >/dev/null
  docker tag nixbp/build:stock nixbp/run:stock
  echo "stock-images.sh: made nixbp/build:stock and nixbp/run:stock (Debian $version)" >&2
fi
