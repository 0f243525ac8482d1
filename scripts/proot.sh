#!/usr/bin/env bash
# Builds the bundled static proot from Debian's source packages. Usage:
#   scripts/proot.sh OUTDIR [amd64|arm64]
# Writes OUTDIR/proot (static, stripped, for linux/amd64 by default) and
# OUTDIR/sources/: the exact Debian source files it was built from, this
# script and a README, so that a recipient can rebuild it or relink it
# (GPL-2.0-or-later proot, LGPL-3.0-or-later talloc, LGPL-2.1-or-later glibc
# linked statically).
#
# arm64 is cross-compiled with Debian's gcc-aarch64-linux-gnu from the same
# sources, linked against the same glibc: Debian 12's arm64 libc6-dev
# $GLIBC_VERSION (with libc6 and linux-libc-dev $LINUX_LIBC_DEV_VERSION),
# unpacked into a sysroot from the .debs (scripts/debs.sh), not the cross
# toolchain's libc6-dev-arm64-cross (glibc 2.36-8, older, and its sources
# are not served). qemu-user cannot run it (qemu does not implement ptrace),
# so the smoke test below is amd64's only; the arm64 end-to-end test
# (scripts/arm64.sh test) runs it in an emulated arm64 machine.
#
# Versions, from the only Debian sources the archive mirror serves here:
# - proot 5.4.0-3 (sid; bookworm's and trixie's 5.1.0-1.3 sources are not
#   served), with Debian's debian/patches series applied;
# - talloc 2.4.3 as shipped in trixie's samba 2:4.22.11+dfsg-0+deb13u1
#   (trixie has no separate talloc source package; bookworm's talloc 2.4.0
#   sources are not served), samba's patch series applied; talloc.c is
#   compiled directly with the small config.h below instead of samba's waf
#   (waf's configure takes a minute and then cannot build lib/talloc inside
#   the samba tree; talloc.c needs nothing from lib/replace on glibc);
# - glibc: the machine's libc6-dev, which must be the pinned version, whose
#   Debian sources (bookworm) are shipped too.
# The sha256 of every file is the one in Debian's signed Sources index.
# proot is built with HAVE_SECCOMP_FILTER: Debian's patch
# disable-seccomp-based-tracing-performanc (for kernels 4.8, 2017) drops the
# filter, but proot 5.4.0's tracer still switches to its seccomp fast path,
# so every syscall after the first goes untranslated (`ls` of a bound
# directory shows the host's one). Upstream's handling of 4.8+ kernels
# (handle_tracee_event_kernel_4_8) makes the filter safe; PROOT_NO_SECCOMP=1
# still turns it off at run time.
#
# The result is cached in ${NIXBP_TOOLS_DIR:-.tools}/proot-<key>, keyed by
# the pins and RECIPE, so reruns only copy. Needs gcc, make, patch, curl,
# xz-utils, binutils, file and libc6-dev (installed from apt when missing and
# running as root).
set -euo pipefail
self="$(readlink -f "$0")"
root="$(cd "$(dirname "$self")/.." && pwd)"
out="${1:?usage: scripts/proot.sh OUTDIR [amd64|arm64]}"
arch="${2:-amd64}"
case "$arch" in amd64|arm64) ;; *) echo "proot.sh: unknown architecture $arch (amd64 or arm64)" >&2; exit 2 ;; esac
tools="${NIXBP_TOOLS_DIR:-$root/.tools}"
mirror="${NIXBP_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

PROOT_VERSION=5.4.0-3
SAMBA_VERSION=4.22.11+dfsg-0+deb13u1
TALLOC_VERSION=2.4.3
GLIBC_VERSION=2.36-9+deb12u14
LINUX_LIBC_DEV_VERSION=6.1.176-1 # arm64's kernel headers (amd64 uses the machine's)
RECIPE=3 # bump when the build below changes
# pool path, sha256 (from Debian's Sources index)
SOURCES=(
  "p/proot/proot_5.4.0.orig.tar.gz 29248aac2a7ce10c3bd5ee5602742ec33b2532310ff9cf73b79f3c133e5a5f68"
  "p/proot/proot_5.4.0-3.debian.tar.xz 7575d5b605ab1cc0cb529190073e3e9873a97ec356ad45a9422f4736a0aed7a8"
  "s/samba/samba_4.22.11+dfsg.orig.tar.xz 4379aa4bc6c453bfa55697556d6195ab69b1cad71e5fdfaf2c53849d96d40f0a"
  "s/samba/samba_4.22.11+dfsg-0+deb13u1.debian.tar.xz 0359a3242bcbd14f74994a195084f7a8ea28bf9d1287c0021921c40b7d5d7a03"
  "g/glibc/glibc_2.36.orig.tar.xz a543c02070d46ccaf866957efd13f10c924daa74c86a90a0254db09a92a708ee"
  "g/glibc/glibc_2.36-9+deb12u14.debian.tar.xz cf4ac9cd98185452cae3ef34e2e4ee12753e3d93fd0c62c61396d4a47eec902f"
)

cache="$tools/proot-$PROOT_VERSION-talloc-$TALLOC_VERSION-glibc-$GLIBC_VERSION-r$RECIPE"
if [ "$arch" = arm64 ]; then
  cache="$tools/proot-$PROOT_VERSION-talloc-$TALLOC_VERSION-glibc-$GLIBC_VERSION-linux-$LINUX_LIBC_DEV_VERSION-r$RECIPE-arm64"
fi
downloads="$tools/debian-sources"

# fetch POOLPATH SHA256: the file in $downloads, downloaded once and checked.
fetch() {
  local file="$downloads/${1##*/}"
  if [ ! -f "$file" ] || [ "$(sha256sum "$file" | cut -d' ' -f1)" != "$2" ]; then
    mkdir -p "$downloads"
    curl -fsSL --retry 3 -o "$file.tmp" "$mirror/pool/main/$1"
    mv "$file.tmp" "$file"
  fi
  if [ "$(sha256sum "$file" | cut -d' ' -f1)" != "$2" ]; then
    echo "proot.sh: $mirror/pool/main/$1 has sha256 $(sha256sum "$file" | cut -d' ' -f1), pinned $2" >&2
    rm -f "$file"
    exit 1
  fi
}

# apply_series DIR: applies DIR/debian/patches/series as dpkg-source does
# for a 3.0 (quilt) package.
apply_series() {
  local name opt
  [ -f "$1/debian/patches/series" ] || return 0
  while read -r name opt; do
    case "$name" in ''|'#'*) continue ;; esac
    patch -d "$1" -s -f --no-backup-if-mismatch "${opt:--p1}" < "$1/debian/patches/$name"
  done < "$1/debian/patches/series"
}

install_build_deps() {
  local missing=() cmd pkg
  for cmd in gcc:gcc make:make patch:patch curl:curl xz:xz-utils strip:binutils file:file; do
    command -v "${cmd%%:*}" >/dev/null || missing+=("${cmd#*:}")
  done
  if [ "$arch" = arm64 ]; then
    command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
  else
    dpkg-query -W -f='${Status}' libc6-dev 2>/dev/null | grep -q "install ok installed" || missing+=(libc6-dev)
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { echo "proot.sh: missing ${missing[*]}; install them (apt-get install ${missing[*]})" >&2; exit 1; }
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  [ "$arch" = arm64 ] && return 0
  pkg="$(dpkg-query -W -f='${Version}' libc6-dev)"
  if [ "$pkg" != "$GLIBC_VERSION" ]; then
    echo "proot.sh: libc6-dev is $pkg, the pinned glibc sources are $GLIBC_VERSION;" \
      "update GLIBC_VERSION and the glibc lines of SOURCES from Debian's Sources index" >&2
    exit 1
  fi
}

# arm64_sysroot DIR: Debian 12's arm64 libc6, libc6-dev (the pinned glibc)
# and linux-libc-dev unpacked into DIR, for aarch64-linux-gnu-gcc --sysroot.
arm64_sysroot() {
  local debs="$tools/debian-debs/bookworm-arm64" d
  mkdir -p "$debs"
  (cd "$debs" && "$root/scripts/debs.sh" bookworm arm64 apt-get -qq download \
    "libc6=$GLIBC_VERSION" "libc6-dev=$GLIBC_VERSION" "linux-libc-dev=$LINUX_LIBC_DEV_VERSION") || {
    echo "proot.sh: Debian bookworm no longer serves arm64 libc6-dev $GLIBC_VERSION or linux-libc-dev" \
      "$LINUX_LIBC_DEV_VERSION: update GLIBC_VERSION (and the glibc SOURCES) or LINUX_LIBC_DEV_VERSION" >&2
    exit 1
  }
  for d in "libc6_${GLIBC_VERSION}_arm64.deb" "libc6-dev_${GLIBC_VERSION}_arm64.deb" "linux-libc-dev_${LINUX_LIBC_DEV_VERSION}_arm64.deb"; do
    dpkg-deb -x "$debs/${d//:/%3a}" "$1"
    echo "$(sha256sum "$debs/${d//:/%3a}" | cut -d' ' -f1)  $d" >> "$1.sha256"
  done
}

build() {
  install_build_deps
  local line
  for line in "${SOURCES[@]}"; do fetch $line; done
  local work="$cache.work"
  rm -rf "$work" && mkdir -p "$work"
  local cc=gcc strip=strip cross=""
  if [ "$arch" = arm64 ]; then
    arm64_sysroot "$work/sysroot"
    # Only the sysroot's glibc and headers: Debian's cross gcc searches
    # /usr/aarch64-linux-gnu (libc6-dev-arm64-cross, when installed) before
    # any --sysroot, so the standard directories are replaced explicitly.
    local sr="$work/sysroot"
    cc="aarch64-linux-gnu-gcc --sysroot=$sr -nostdinc -isystem $(aarch64-linux-gnu-gcc -print-file-name=include)"
    cc+=" -isystem $sr/usr/include/aarch64-linux-gnu -isystem $sr/usr/include"
    cc+=" -B$sr/usr/lib/aarch64-linux-gnu/ -L$sr/usr/lib/aarch64-linux-gnu"
    strip=aarch64-linux-gnu-strip cross=aarch64-linux-gnu-
  fi

  tar -xzf "$downloads/proot_5.4.0.orig.tar.gz" -C "$work"
  tar -xJf "$downloads/proot_5.4.0-3.debian.tar.xz" -C "$work/proot-5.4.0"
  apply_series "$work/proot-5.4.0"
  tar -xJf "$downloads/samba_4.22.11+dfsg.orig.tar.xz" -C "$work"
  tar -xJf "$downloads/samba_4.22.11+dfsg-0+deb13u1.debian.tar.xz" -C "$work/samba-4.22.11"
  apply_series "$work/samba-4.22.11"
  # Keep only what talloc.c is compiled from (the tree is 180 MB).
  mkdir -p "$work/samba/lib"
  mv "$work/samba-4.22.11/lib/talloc" "$work/samba-4.22.11/lib/replace" "$work/samba/lib/"
  rm -rf "$work/samba-4.22.11"

  # talloc: talloc.c alone, as libtalloc.a.
  local talloc="$work/talloc"
  mkdir -p "$talloc"
  cp "$work/samba/lib/talloc/talloc.h" "$talloc/"
  cat > "$talloc/config.h" <<EOF
/* For talloc.c alone on Debian 12 glibc, no valgrind (not waf's output). */
#define HAVE_STDINT_H 1
#define HAVE_INTTYPES_H 1
#define HAVE_STDBOOL_H 1
#define HAVE_BOOL 1
#define HAVE__Bool 1
#define HAVE_STRING_H 1
#define HAVE_STRINGS_H 1
#define HAVE_UNISTD_H 1
#define HAVE_SYS_TYPES_H 1
#define HAVE_LIMITS_H 1
#define HAVE_SYS_PARAM_H 1
#define HAVE_MALLOC_H 1
#define HAVE_DLFCN_H 1
#define HAVE_VA_COPY 1
#define HAVE_STRNLEN 1
#define HAVE_STRNDUP 1
#define HAVE_VASPRINTF 1
#define HAVE_ASPRINTF 1
#define HAVE_SNPRINTF 1
#define HAVE_VSNPRINTF 1
#define HAVE_C99_VSNPRINTF 1
#define HAVE_MEMMOVE 1
#define HAVE_STRDUP 1
#define HAVE_SETENV 1
#define HAVE_UNSETENV 1
#define HAVE_STRERROR_R 1
#define HAVE_MKDTEMP 1
#define HAVE_STRTOLL 1
#define HAVE_STRTOULL 1
#define HAVE_DECL_ENVIRON 1
#define HAVE_ENVIRON_DECL 1
#define HAVE_CONSTRUCTOR_ATTRIBUTE 1
#define HAVE_DESTRUCTOR_ATTRIBUTE 1
#define HAVE_FUNCTION_ATTRIBUTE_DESTRUCTOR 1
#define HAVE___ATTRIBUTE__ 1
#define HAVE_GETAUXVAL 1
#define HAVE_SYS_AUXV_H 1
#define HAVE_INTPTR_T 1
#define HAVE_UINTPTR_T 1
#define HAVE_PTRDIFF_T 1
#define HAVE_LONG_LONG 1
#define HAVE_SIG_ATOMIC_T_TYPE 1
#define HAVE_USLEEP 1
#define HAVE_LINUX_TYPES_H 1
#define BOOL_DEFINED 1
#define SIZEOF_BOOL 1
#define TALLOC_BUILD_VERSION_MAJOR ${TALLOC_VERSION%%.*}
#define TALLOC_BUILD_VERSION_MINOR $(echo "$TALLOC_VERSION" | cut -d. -f2)
#define TALLOC_BUILD_VERSION_RELEASE ${TALLOC_VERSION##*.}
EOF
  # In $work, so that the debug info's compilation directory (which the
  # build ID covers) is mapped too, whatever directory this runs from.
  (cd "$work" && $cc -g -O2 -ffile-prefix-map="$work"=. -fstack-protector-strong -Werror=implicit-function-declaration -D_FORTIFY_SOURCE=2 -D_GNU_SOURCE -D__STDC_WANT_LIB_EXT1__=1 \
    -I"$talloc" -I"$work/samba/lib/replace" -I"$work/samba/lib/talloc" \
    -c "$work/samba/lib/talloc/talloc.c" -o "$talloc/talloc.o")
  "${cross}ar" rcs "$talloc/libtalloc.a" "$talloc/talloc.o"

  # proot: Debian's build (debian/rules: `make -C src proot`) with
  # Debian 12's dpkg-buildflags, linked statically. -ffile-prefix-map (as
  # dpkg-buildflags has it) makes the binary the same in any directory.
  env CFLAGS="-g -O2 -ffile-prefix-map=$work=. -fstack-protector-strong -Wformat -Werror=format-security" \
    CPPFLAGS="-D_FORTIFY_SOURCE=2 -DHAVE_SECCOMP_FILTER -I$talloc" \
    LDFLAGS="-static -Wl,-z,relro -L$talloc -ltalloc" \
    make -C "$work/proot-5.4.0/src" proot CROSS_COMPILE="$cross" ${cross:+CC="$cc"} PKG_CONFIG=true \
    VERSION="$PROOT_VERSION" >"$work/make.log" 2>&1 \
    || { tail -30 "$work/make.log" >&2; exit 1; }
  $strip -o "$work/proot" "$work/proot-5.4.0/src/proot"
  local machine=x86-64
  [ "$arch" = arm64 ] && machine="ARM aarch64"
  if ! file "$work/proot" | grep 'statically linked' | grep -q "$machine"; then
    echo "proot.sh: $(file "$work/proot") is not a statically linked $machine program" >&2
    exit 1
  fi
  # It must show a directory at /nix to more than the first system call
  # (what the seccomp fast path without its filter broke).
  mkdir -p "$work/smoke/store" && echo bound > "$work/smoke/store/marker"
  if [ "$arch" = amd64 ] && [ "$("$work/proot" -b "$work/smoke:/nix" /bin/sh -c 'ls /nix/store; cat /nix/store/marker' 2>&1)" != "marker
bound" ]; then
    echo "proot.sh: the built proot does not show $work/smoke at /nix:" >&2
    "$work/proot" -b "$work/smoke:/nix" /bin/sh -c 'ls /nix/store; cat /nix/store/marker' >&2 || true
    exit 1
  fi

  mkdir -p "$work/out/sources"
  for line in "${SOURCES[@]}"; do
    line="${line%% *}"
    cp "$downloads/${line##*/}" "$work/out/sources/"
  done
  cp "$self" "$work/out/sources/proot.sh"
  cp "$talloc/config.h" "$work/out/sources/talloc-config.h"
  [ "$arch" = arm64 ] && cp "$work/sysroot.sha256" "$work/out/sources/arm64-sysroot.sha256"
  write_readme > "$work/out/sources/README"
  mv "$work/proot" "$work/out/proot"
  rm -rf "$cache" && mv "$work/out" "$cache"
  rm -rf "$work"
}

write_readme() {
  if [ "$arch" = arm64 ]; then
    cat <<EOF
Sources of the arm64 bin/proot (lib/linux-arm64/proot in the Heroku-style
buildpack, whose sources/README is the amd64 build's)

bin/proot is a static aarch64 build of Debian's proot $PROOT_VERSION, linked
with talloc $TALLOC_VERSION (from Debian's samba $SAMBA_VERSION) and
Debian 12's glibc $GLIBC_VERSION (arm64 libc6-dev), cross-compiled on
Debian 12 amd64 with gcc-aarch64-linux-gnu against a sysroot of Debian's
arm64 libc6 and libc6-dev $GLIBC_VERSION and linux-libc-dev
$LINUX_LIBC_DEV_VERSION (the .debs' sha256 in arm64-sysroot.sha256). The
source files here are the same as for amd64 (sha256 in proot.sh, as in
Debian's Sources index); proot.sh is the script that built it;
talloc-config.h is the config.h it writes for talloc.c.

Licenses: proot is GPL-2.0-or-later (proot_*.orig.tar.gz: COPYING);
talloc is LGPL-3.0-or-later (samba-*/lib/talloc/LICENSE); glibc is
LGPL-2.1-or-later (glibc_*.orig.tar.xz: COPYING.LIB).
To rebuild, or to relink with a modified talloc or glibc: on Debian 12 with
gcc-aarch64-linux-gnu, put these files in \$NIXBP_TOOLS_DIR/debian-sources
(or let the script download them from a Debian mirror) and run
  NIXBP_TOOLS_DIR=DIR bash proot.sh OUTDIR arm64
after editing it to point at your talloc or glibc (its build() function
shows every compiler and linker command).
EOF
    return
  fi
  cat <<EOF
Sources of bin/proot (lib/linux-amd64/proot in the Heroku-style buildpack)

bin/proot is a static x86_64 build of Debian's proot $PROOT_VERSION, linked
with talloc $TALLOC_VERSION (from Debian's samba $SAMBA_VERSION) and
Debian 12's glibc $GLIBC_VERSION (libc6-dev). This directory holds the exact
Debian source files it was built from (sha256 in proot.sh, as in Debian's
Sources index) and proot.sh, the script that built it; talloc-config.h is
the config.h it writes for talloc.c.

Licenses: proot is GPL-2.0-or-later (proot_*.orig.tar.gz: COPYING);
talloc is LGPL-3.0-or-later (samba-*/lib/talloc/LICENSE); glibc is
LGPL-2.1-or-later (glibc_*.orig.tar.xz: COPYING.LIB).
To rebuild, or to relink with a modified talloc or glibc: on Debian 12 with
libc6-dev $GLIBC_VERSION, put these files in \$NIXBP_TOOLS_DIR/debian-sources
(or let the script download them from a Debian mirror) and run
  NIXBP_TOOLS_DIR=DIR bash proot.sh OUTDIR
after editing it to point at your talloc or glibc (its build() function
shows every compiler and linker command).
EOF
}

[ -x "$cache/proot" ] || build
mkdir -p "$out"
cp "$cache/proot" "$out/proot"
rm -rf "$out/sources"
cp -r "$cache/sources" "$out/sources"
