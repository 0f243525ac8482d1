#!/usr/bin/env bash
# Makes the base images for an offline `pack build` with `docker import`
# (no registry is reachable here), from Debian's busybox-static and proot:
#   nixbp/build:busybox       build image: busybox, proot, user cnb (1000:1000)
#                             (and the fixture Nix's build hook, below)
#   nixbp/run:busybox         run image: the same; the launcher shows the
#                             closure at /nix by user namespace or proot
#   nixbp/run-native:busybox  run image with the link
#                             /nix -> /layers/nix-buildpack_nix/view/nix,
#                             so the app runs with no translation
# The buildpack needs nothing else at build time: its binaries are static,
# Nix comes from its own tarball, and the fixtures build with their own
# busybox. Each image carries a digest of its inputs and is remade only when
# they change. Needs DOCKER_HOST (scripts/docker/dockerd.sh start).
# Usage: scripts/docker/images.sh
set -euo pipefail
stack=io.nixbp.busybox
uid=1000 gid=1000

# The recipe's inputs: this script, busybox and proot with its libraries.
proot_files=()
if command -v proot >/dev/null; then
  proot_files=("$(command -v proot)")
  while read -r lib; do proot_files+=("$lib"); done < <(ldd "$(command -v proot)" | awk '/=> \//{print $3} /^\t\/.*ld-linux/{print $1}')
fi
recipe="$(cat "$0" /bin/busybox "${proot_files[@]}" | sha256sum | cut -c1-16)"

# rootfs DIR [proot] [native]: a busybox root with a cnb user.
rootfs() {
  local d="$1"; shift
  mkdir -p "$d"/{bin,etc,tmp,home/cnb}
  cp /bin/busybox "$d/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$d/bin/$applet"
  done
  chmod 1777 "$d/tmp"
  chown "$uid:$gid" "$d/home/cnb"
  printf 'root:x:0:0:root:/root:/bin/sh\ncnb:x:%s:%s:cnb:/home/cnb:/bin/sh\n' "$uid" "$gid" > "$d/etc/passwd"
  printf 'root:x:0:\ncnb:x:%s:\n' "$gid" > "$d/etc/group"
  for opt in "$@"; do
    case "$opt" in
      proot)
        [ ${#proot_files[@]} -gt 0 ] || { echo "images.sh: proot is not installed (apt-get install proot)" >&2; exit 1; }
        for f in "${proot_files[@]}"; do
          mkdir -p "$d$(dirname "$f")"
          cp -L "$f" "$d$f"
        done ;;
      native) ln -s /layers/nix-buildpack_nix/view/nix "$d/nix" ;;
      # The Nix tarball fixture is Debian's nix-bin, whose build hook is
      # compiled in as /usr/libexec/nix/build-remote (the official
      # tarball's points into its own store path). nix dispatches on its
      # argv[0], and the hook is exec'd by nix itself: a link to
      # /proc/self/exe named build-remote is that nix.
      build-hook) mkdir -p "$d/usr/libexec/nix" && ln -s /proc/self/exe "$d/usr/libexec/nix/build-remote" ;;
    esac
  done
}

# image NAME ROOTFS-OPTIONS...: imports the root unless the recipe is unchanged.
image() {
  local name="$1"; shift
  if [ "$(docker image inspect -f '{{index .Config.Labels "io.nixbp.recipe"}}' "$name" 2>/dev/null)" = "$recipe" ]; then
    return 0
  fi
  local d
  d="$(mktemp -d)"
  rootfs "$d/root" "$@"
  tar -C "$d/root" --numeric-owner -c . | docker import \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV CNB_USER_ID=$uid" --change "ENV CNB_GROUP_ID=$gid" --change "ENV CNB_STACK_ID=$stack" \
    --change "LABEL io.buildpacks.stack.id=$stack" \
    --change "LABEL io.buildpacks.base.distro.name=busybox" \
    --change "LABEL io.nixbp.recipe=$recipe" \
    --change "USER $uid:$gid" \
    - "$name" >/dev/null
  chown -R "$(id -u)" "$d" 2>/dev/null || true
  rm -rf "$d"
  echo "images.sh: made $name" >&2
}

image nixbp/build:busybox proot build-hook
image nixbp/run:busybox proot
image nixbp/run-native:busybox native
