#!/usr/bin/env bash
# The linux/arm64 end-to-end test, under emulation on an amd64 machine
# (docs/arm64.md). Usage:
#   scripts/arm64.sh test [short]   setup, then go test -tags arm64emu ./e2e/arm64
#                                   (short: the one case .ci/run runs)
#   scripts/arm64.sh setup [short]  only what the test needs (cached, keyed by
#                                   version; short: not the arm64 lifecycle)
#   scripts/arm64.sh binfmt         register qemu-aarch64 with binfmt_misc
#   scripts/arm64.sh machine        the emulated machine's kernel and initrd; prints their directory
#
# qemu-user cannot run the /nix strategies the test is about: it implements
# neither ptrace (proot) nor clone with CLONE_NEWUSER (user namespaces; both
# checked with qemu 7.2 and 10.0). So the test boots an emulated arm64
# machine (qemu-system-aarch64, TCG) on Debian 12's arm64 kernel, whose
# initrd is a small Debian 12 arm64 root made from the .debs of a few
# packages (no debootstrap: nothing runs to make it), and runs the arm64
# build of the e2e/arm64 test binary there; the packaged buildpack, the
# lifecycle built for arm64 and the Nix tarball reach it over virtio 9p.
# binfmt (qemu-user) runs the arm64 programs on this machine for the quick
# checks before the machine boots, and fixtures/nix-tarball/make.sh arm64's
# check of nix.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="${NIXBP_TOOLS_DIR:-$root/.tools}"

SUITE=bookworm
# The arm64 root: what the e2e harness runs there (setpriv, cp, chown, tar,
# bash for the Heroku-style dyno, busybox for the apps and ip), and their
# dependencies as apt resolves them (the versions are in etc/nixbp-packages).
PACKAGES=(bash coreutils util-linux mount tar gzip xz-utils busybox-static dash sed grep findutils)
KERNEL_PACKAGE=linux-image-6.1.0-50-arm64
KERNEL_VERSION=6.1.176-1
# virtio PCI and 9p, in load order (the kernel has them as modules).
MODULES=(drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci
  fs/netfs/netfs fs/fscache/fscache net/9p/9pnet net/9p/9pnet_virtio fs/9p/9p)
HOST_PACKAGES=(qemu-user-static binfmt-support qemu-system-arm gcc-aarch64-linux-gnu cpio)

install_host_packages() {
  local missing=() p
  for p in "${HOST_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || { echo "arm64.sh: missing ${missing[*]}; install them (apt-get install ${missing[*]})" >&2; exit 1; }
  echo "arm64.sh: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# binfmt: qemu-aarch64 registered with binfmt_misc, with the F flag (the
# interpreter is opened now, so it works in chroots and namespaces too).
# Nothing is changed when it is registered already, by Debian's
# binfmt-support or anything else.
binfmt() {
  local dir=/proc/sys/fs/binfmt_misc
  if ! mountpoint -q "$dir"; then
    mount -t binfmt_misc binfmt_misc "$dir"
  fi
  if [ -f "$dir/qemu-aarch64" ]; then
    grep -qx enabled "$dir/qemu-aarch64" || echo 1 > "$dir/qemu-aarch64"
    return 0
  fi
  if command -v update-binfmts >/dev/null && update-binfmts --enable qemu-aarch64 2>/dev/null && [ -f "$dir/qemu-aarch64" ]; then
    return 0
  fi
  printf '%s' ':qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-aarch64-static:F' > "$dir/register"
}

# make_machine DIR: DIR/vmlinuz and DIR/initrd.gz, the initrd being the
# arm64 root with the kernel's modules and init (below).
make_machine() {
  local out="$1" work debs list p
  work="$(mktemp -d)"
  debs="$tools/debian-debs/$SUITE-arm64"
  mkdir -p "$debs"
  list="$("$root/scripts/debs.sh" "$SUITE" arm64 resolve "${PACKAGES[@]}")"
  # shellcheck disable=SC2086
  (cd "$debs" && "$root/scripts/debs.sh" "$SUITE" arm64 apt-get -qq download $list "$KERNEL_PACKAGE=$KERNEL_VERSION") || {
    echo "arm64.sh: Debian $SUITE does not serve $KERNEL_PACKAGE $KERNEL_VERSION (or a package of the root) for arm64;" \
      "update KERNEL_PACKAGE and KERNEL_VERSION from 'scripts/debs.sh $SUITE arm64 apt-cache show linux-image-arm64'" >&2
    exit 1
  }
  mkdir -p "$work/root"
  for p in $list; do
    dpkg-deb -x "$debs/${p%%=*}_$(echo "${p#*=}" | sed 's/:/%3a/')_"*.deb "$work/root"
  done
  echo "$list" > "$work/root/etc/nixbp-packages"
  rm -rf "$work/root/usr/share/doc" "$work/root/usr/share/man" "$work/root/usr/share/info" "$work/root/usr/share/locale"
  printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' > "$work/root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$work/root/etc/group"
  mkdir -p "$work/root/proc" "$work/root/sys" "$work/root/dev" "$work/root/tmp" "$work/root/root" "$work/root/nixbp-work" "$work/root/lib/modules"
  dpkg-deb -x "$debs/${KERNEL_PACKAGE}_${KERNEL_VERSION}_arm64.deb" "$work/kernel"
  cp "$work/kernel/boot/vmlinuz-${KERNEL_PACKAGE#linux-image-}" "$work/vmlinuz"
  for m in "${MODULES[@]}"; do
    cp "$work/kernel/lib/modules/${KERNEL_PACKAGE#linux-image-}/kernel/$m.ko" "$work/root/lib/modules/"
  done
  write_init > "$work/root/init"
  chmod 755 "$work/root/init"
  (cd "$work/root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet --reproducible | gzip -1 -n) > "$work/initrd.gz"
  mkdir -p "$out.tmp"
  mv "$work/vmlinuz" "$work/initrd.gz" "$out.tmp/"
  cp "$work/root/etc/nixbp-packages" "$out.tmp/packages"
  rm -rf "$out" && mv "$out.tmp" "$out"
  rm -rf "$work"
}

# write_init prints the machine's /init: mounts, the 9p modules, loopback
# up, the "work" 9p share at /nixbp-work, then /nixbp-work/run.sh (written
# by the test) and power off, which ends qemu.
write_init() {
  local m names=()
  for m in "${MODULES[@]}"; do names+=("${m##*/}"); done
  cat <<EOF
#!/bin/busybox sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
for m in ${names[*]}; do insmod /lib/modules/\$m.ko || echo "init: insmod \$m failed"; done
busybox ip link set lo up
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 work /nixbp-work; then
  bash /nixbp-work/run.sh
else
  echo "init: no 9p share named work"
fi
sync
busybox poweroff -f
EOF
}

machine() {
  local key
  key="$(printf '%s\n' "$SUITE" "${PACKAGES[*]}" "$KERNEL_PACKAGE" "$KERNEL_VERSION" "${MODULES[*]}" \
    "$(declare -f make_machine write_init)" | sha256sum | cut -c1-16)"
  local dir="$tools/arm64/machine-$key"
  if [ ! -f "$dir/initrd.gz" ]; then
    mkdir -p "$tools/arm64"
    exec 9>"$tools/arm64/.lock"
    flock 9
    [ -f "$dir/initrd.gz" ] || make_machine "$dir"
    exec 9>&-
  fi
  echo "$dir"
}

# step NAME CMD...: runs CMD, logging how long it took.
step() {
  local name="$1" start=$SECONDS
  shift
  "$@"
  echo "arm64.sh: $name: $((SECONDS - start)) s" >&2
}

setup() {
  step "host packages" install_host_packages
  step binfmt binfmt
  step "emulated machine" machine >/dev/null
  [ "${1:-}" = short ] || step "lifecycle for arm64" "$root/scripts/tools.sh" lifecycle-arm64
  step "arm64 Nix tarball" "$root/fixtures/nix-tarball/make.sh" "$tools/fixtures/nix-tarball" arm64 >/dev/null
  step "arm64 proot" "$root/scripts/proot.sh" "$tools/proot-arm64" arm64
}

# setup and test run as scripts/test.sh does, through scripts/fresh-nix.sh:
# with an empty /nix of their own (make.sh runs the host's nix-build).
case "${1:-}" in
  setup|test)
    if [ "${NIXBP_FRESH_NIX_INSIDE:-}" != /nix ]; then
      exec "$root/scripts/fresh-nix.sh" "$0" "$@"
    fi ;;
esac

case "${1:-}" in
  binfmt) install_host_packages; binfmt ;;
  machine) install_host_packages; machine ;;
  setup) setup "${2:-}" ;;
  test)
    setup "${2:-}"
    cd "$root"
    export CI="${CI:-true}"
    go vet -tags arm64emu ./e2e/arm64
    [ ! -x "$tools/bin/staticcheck" ] || "$tools/bin/staticcheck" -tags arm64emu ./e2e/arm64
    [ "${2:-}" = short ] && export NIXBP_ARM64_CASES=short
    exec go test -tags arm64emu -count=1 -timeout 120m -v ./e2e/arm64 ;;
  *) echo "usage: scripts/arm64.sh test [short]|setup [short]|binfmt|machine" >&2; exit 2 ;;
esac
