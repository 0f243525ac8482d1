#!/usr/bin/env bash
# Makes the images the platform-client tests (e2e/clients) run in, shaped
# like the platforms' own, from the Debian root of stock-images.sh:
#   nixbp/herokuish:<commit>  Dokku's build and run image (gliderlabs/herokuish
#                             is heroku/heroku:24-build with herokuish): the
#                             root with daemontools (setuidgid), curl and
#                             adduser; herokuish at /bin/herokuish with the
#                             links /build, /start and /exec; herokuishuser
#                             (32767) made by herokuish's own
#                             include/default_user.bash; BASH_BIN as its
#                             Dockerfile sets it.
#   nixbp/cflinuxfs:<commit>  Cloud Foundry's stack (cflinuxfs4 is an Ubuntu
#                             root with user vcap): the same root with vcap
#                             (2000:2000, home /home/vcap) and the builder and
#                             launcher in /tmp/lifecycle, where Diego puts them.
# Neither has proot, nix or /nix. The packages come from Debian's mirror,
# once: the root with them is cached in the tools directory, keyed by the
# stock root, the package list and the recipe below.
# Usage: scripts/docker/client-images.sh rootfs   # only the cached root (setup)
#        scripts/docker/client-images.sh          # the images (DOCKER_HOST)
# Needs root; the clients built by scripts/tools.sh herokuish|cflifecycle.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
tools="${NIXBP_TOOLS_DIR:-$root/.tools}"
packages=(daemontools curl adduser)
herokuish_commit="$(sed -n 's/^HEROKUISH_COMMIT=//p' "$root/scripts/tools.sh")"
cf_commit="$(sed -n 's/^CFLIFECYCLE_COMMIT=//p' "$root/scripts/tools.sh")"
herokuish="$tools/herokuish-$herokuish_commit/herokuish"
cflifecycle="$tools/buildpackapplifecycle-$cf_commit"

# add_packages DIR: installs the packages into the root at DIR with its own
# apt (the host's network, at setup time), then drops apt's caches.
add_packages() {
  local d="$1"
  cp /etc/resolv.conf "$d/etc/resolv.conf"
  mount -t proc proc "$d/proc"
  trap 'umount "$d/proc" 2>/dev/null || true' RETURN
  chroot "$d" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive chroot "$d" apt-get install -y -qq --no-install-recommends "${packages[@]}" >&2
  rm -rf "$d"/var/cache/apt/archives/*.deb "$d"/var/cache/apt/*.bin "$d"/var/lib/apt/lists/*
  : >"$d/etc/resolv.conf"
}

stock="$("$root/scripts/docker/stock-images.sh" rootfs)"
key="$(printf '%s\n' "$(basename "$stock")" "${packages[*]}" "$(declare -f add_packages)" | sha256sum | cut -c1-16)"
tarball="$tools/debian/clients-$key.tar.gz"

make_tarball() {
  [ -f "$tarball" ] && return 0
  exec 9>"$tools/debian/.clients.lock"
  flock 9
  [ -f "$tarball" ] && return 0
  local d
  d="$(mktemp -d)"
  echo "client-images.sh: adding ${packages[*]} to the stock Debian root (once)" >&2
  mkdir "$d/root"
  tar -xzf "$stock" -C "$d/root"
  add_packages "$d/root"
  tar -C "$d/root" --numeric-owner -czf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  rm -rf "$d"
  exec 9>&-
}

make_tarball
[ "${1:-}" = rootfs ] && { echo "$tarball"; exit 0; }

for f in "$herokuish" "$(dirname "$herokuish")/default_user.bash" "$cflifecycle/builder" "$cflifecycle/launcher"; do
  [ -f "$f" ] || { echo "client-images.sh: $f is missing (scripts/tools.sh herokuish cflifecycle)" >&2; exit 1; }
done
# image NAME SETUP: imports the root with SETUP applied to it (a function
# taking the root's directory), unless the recipe is unchanged.
image() {
  local name="$1" setup="$2" recipe d
  recipe="$(cat "$0" "$tarball" "$herokuish" "$cflifecycle/builder" "$cflifecycle/launcher" | sha256sum | cut -c1-16)"
  [ "$(docker image inspect -f '{{index .Config.Labels "io.nixbp.recipe"}}' "$name" 2>/dev/null)" = "$recipe" ] && return 0
  d="$(mktemp -d)"
  tar -xzf "$tarball" -C "$d"
  "$setup" "$d"
  tar -C "$d" --numeric-owner -c . | docker import \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "LABEL io.nixbp.recipe=$recipe" "${changes[@]}" - "$name" >/dev/null
  rm -rf "$d"
  echo "client-images.sh: made $name" >&2
}

herokuish_root() {
  local d="$1"
  cp "$herokuish" "$d/bin/herokuish"
  for l in build start exec; do ln -s /bin/herokuish "$d/$l"; done
  cp "$(dirname "$herokuish")/default_user.bash" "$d/tmp/default_user.bash"
  chroot "$d" bash /tmp/default_user.bash
  rm -f "$d/tmp/default_user.bash"
}
changes=(--change "ENV STACK=heroku-24" --change "ENV BASH_BIN=/usr/bin/bash")
image "nixbp/herokuish:$herokuish_commit" herokuish_root

cflinuxfs_root() {
  local d="$1"
  chroot "$d" groupadd -g 2000 vcap
  chroot "$d" useradd -u 2000 -g 2000 -m -d /home/vcap -s /bin/bash vcap
  mkdir -p "$d/tmp/lifecycle"
  cp "$cflifecycle/builder" "$cflifecycle/launcher" "$d/tmp/lifecycle/"
}
changes=(--change "ENV LANG=C.UTF-8")
image "nixbp/cflinuxfs:$cf_commit" cflinuxfs_root
echo "nixbp/herokuish:$herokuish_commit"
echo "nixbp/cflinuxfs:$cf_commit"
