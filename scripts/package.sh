#!/usr/bin/env bash
# Packages the buildpack. Usage:
#   scripts/package.sh [--nix-tarball FILE]... [--include-nix] [--no-cnb]
#                      [--arch amd64|arm64|all] [--publish REF] OUTDIR
# Makes, for linux/amd64 and linux/arm64 (the targets of buildpack.toml;
# --arch builds one):
# - OUTDIR/buildpack and OUTDIR/buildpack-arm64: the CNB buildpack
#   directories (buildpack.toml, static binaries in bin/ including the
#   bundled proot, and sources/, the Debian sources proot was built from);
# - OUTDIR/nix-buildpack-<version>.tgz: the Heroku-style buildpack (below),
#   with the binaries of both architectures, and
#   OUTDIR/nix-buildpack-<version>.zip, the same files for Cloud Foundry and
#   Kf (`cf create-buildpack` takes a zip, and their builder downloads a
#   buildpack URL only when it ends in .zip);
# - OUTDIR/nix-buildpack-linux-amd64.cnb and nix-buildpack-linux-arm64.cnb:
#   the CNB buildpack as files for `pack build --buildpack` and builder.toml,
#   made by one `pack buildpack package --format file` with both targets
#   (pack v0.40.9 writes one file per target there; an image index exists
#   only in a registry: --publish); OUTDIR/nix-buildpack.cnb is the amd64
#   one (with --arch, the only one). No Docker daemon is needed; pack
#   is built into .tools/ if missing. --no-cnb skips them.
# --publish REF also pushes the multi-platform buildpack to a registry as
# one image index naming both platforms (`pack buildpack package REF
# --publish`), the form builders pull.
# --nix-tarball FILE pins that architecture's Nix dependency (from the file
# name, nix-<version>-<x86_64|aarch64>-linux.tar.xz) to FILE (its version, its
# sha256 computed), for offline and air-gapped builders and for the tests,
# which map that checksum to the file with a dependency-mapping binding.
# --include-nix puts each architecture's Nix tarball (its --nix-tarball
# FILE, else a download of buildpack.toml's uri, checked against its
# checksum) into that buildpack's dependency cache,
# dependencies/<sha256>/<file> with dependencies/<sha256>.toml, which
# libpak's DependencyCache reuses ("Reusing cached download from
# buildpack"), so an air-gapped builder needs nothing else. The version
# everywhere is buildpack.toml's [buildpack] version.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
nix_tarballs=()
include_nix=""
cnb=1
archs=(amd64 arm64)
publish=""
while [ $# -gt 1 ]; do
  case "$1" in
    --nix-tarball) nix_tarballs+=("$2"); shift 2 ;;
    --include-nix) include_nix=1; shift ;;
    --no-cnb) cnb=""; shift ;;
    --arch)
      case "$2" in
        all) archs=(amd64 arm64) ;;
        amd64|arm64) archs=("$2") ;;
        *) echo "package.sh: --arch $2: expected amd64, arm64 or all" >&2; exit 2 ;;
      esac
      shift 2 ;;
    --publish) publish="$2"; shift 2 ;;
    *) echo "package.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
out="${1:?usage: scripts/package.sh [--nix-tarball FILE]... [--include-nix] [--no-cnb] [--arch amd64|arm64|all] [--publish REF] OUTDIR}"
mkdir -p "$out"

# tarball_arch FILE: the architecture a Nix tarball's name says it is for.
tarball_arch() {
  case "$(basename "$1")" in
    nix-*-x86_64-linux.tar.xz) echo amd64 ;;
    nix-*-aarch64-linux.tar.xz) echo arm64 ;;
    *) echo "package.sh: --nix-tarball $1: expected a file named nix-<version>-x86_64-linux.tar.xz or nix-<version>-aarch64-linux.tar.xz" >&2
       exit 2 ;;
  esac
}

# bp_dir ARCH: the CNB buildpack directory of an architecture.
bp_dir() { if [ "$1" = amd64 ]; then echo "$out/buildpack"; else echo "$out/buildpack-$1"; fi; }

# pin_tarball TOML FILE: rewrites the Nix dependency of FILE's architecture
# in buildpack.toml TOML to FILE's version, name and sha256.
pin_tarball() {
  python3 - "$1" "$(tarball_arch "$2")" "$(basename "$2")" "$(sha256sum "$2" | cut -d' ' -f1)" <<'PY'
import re, sys
path, arch, base, sha = sys.argv[1:]
version = re.match(r"nix-(.*)-(x86_64|aarch64)-linux\.tar\.xz$", base).group(1)
blocks = open(path).read().split("\n  [[metadata.dependencies]]\n")
for i, b in enumerate(blocks[1:], 1):
    if f'\n    arch = "{arch}"\n' not in b:
        continue
    old = re.search(r'version = "([^"]*)"', b).group(1)
    b = b.replace(f'version = "{old}"', f'version = "{version}"', 1)
    b = re.sub(r'uri = "https://releases\.nixos\.org/nix/[^"]*"',
               f'uri = "https://releases.nixos.org/nix/nix-{version}/{base}"', b)
    b = re.sub(r'checksum = "sha256:[0-9a-f]+"', f'checksum = "sha256:{sha}"', b)
    blocks[i] = b.replace(f"nix@{old}", f"nix@{version}").replace(f"nix:{old}", f"nix:{version}")
    break
else:
    sys.exit(f"package.sh: {path} has no Nix dependency for {arch}")
open(path, "w").write("\n  [[metadata.dependencies]]\n".join(blocks))
PY
}

# The CNB buildpack directory of each architecture: the static binaries,
# the bundled static proot (scripts/proot.sh, cached in .tools/) with the
# Debian sources it was built from (README "Bundled proot"), buildpack.toml
# with the pins.
for arch in "${archs[@]}"; do
  bp="$(bp_dir "$arch")"
  rm -rf "$bp"
  mkdir -p "$bp/bin"
  "$root/scripts/build-binaries.sh" "$out/lib" "$arch"
  for name in detect build nixbp-launch nixbp; do
    [ -f "$out/lib/linux-$arch/$name" ] && cp "$out/lib/linux-$arch/$name" "$bp/bin/$name"
  done
  "$root/scripts/proot.sh" "$out/proot-$arch" "$arch"
  cp "$out/proot-$arch/proot" "$out/lib/linux-$arch/proot"
  cp "$out/proot-$arch/proot" "$bp/bin/proot"
  cp -r "$out/proot-$arch/sources" "$bp/sources"
  cp "$root/buildpack.toml" "$bp/buildpack.toml"
  [ -f "$root/README.md" ] && cp "$root/README.md" "$bp/"
  for f in ${nix_tarballs[@]+"${nix_tarballs[@]}"}; do pin_tarball "$bp/buildpack.toml" "$f"; done
done

# The Heroku-style buildpack for Heroku, Dokku (herokuish), Cloud Foundry and
# Kf: OUTDIR/nix-buildpack-<version>.tgz holding the bin/ scripts (detect,
# compile, release, test-compile and test for Heroku CI, run_result.sh,
# run_proot.sh; build for CNB), the
# buildpack.toml above (with the pins) and static binaries in
# lib/linux-amd64 and lib/linux-arm64 (the bundled proot included), which
# the bin/ scripts pick by machine; sources/ holds proot's sources (the same
# for both; sources/README-arm64 says how the arm64 one was built).
for arch in amd64 arm64; do
  case " ${archs[*]} " in *" $arch "*) ;; *) "$root/scripts/build-binaries.sh" "$out/lib" "$arch" ;; esac
done
bp_version="$(sed -n 's/^  version = "\(.*\)"/\1/p' "$root/buildpack.toml" | head -1)"
heroku="$out/heroku"
rm -rf "$heroku"
mkdir -p "$heroku/bin" "$heroku/lib"
for name in detect build compile release test-compile test run_result.sh run_proot.sh; do
  cp "$root/bin/$name" "$heroku/bin/$name"
done
cp -r "$out/lib/linux-amd64" "$out/lib/linux-arm64" "$heroku/lib/"
cp "$(bp_dir "${archs[0]}")/buildpack.toml" "$heroku/buildpack.toml"
cp -r "$out/proot-${archs[0]}/sources" "$heroku/sources"
if [ -d "$out/proot-arm64" ]; then
  cp "$out/proot-arm64/sources/README" "$heroku/sources/README-arm64"
  cp "$out/proot-arm64/sources/arm64-sysroot.sha256" "$heroku/sources/"
fi
[ -f "$root/README.md" ] && cp "$root/README.md" "$heroku/"
tar -czf "$out/nix-buildpack-$bp_version.tgz" --owner=0 --group=0 --numeric-owner -C "$heroku" .
echo "$out/nix-buildpack-$bp_version.tgz" >&2
# The same files as a zip, modes kept (Unix external attributes, which Cloud
# Foundry's extractor applies), bin/ at its root.
python3 - "$heroku" "$out/nix-buildpack-$bp_version.zip" <<'PY'
import os, sys, zipfile
src, dst = sys.argv[1:]
with zipfile.ZipFile(dst + ".tmp", "w", zipfile.ZIP_DEFLATED) as z:
    for d, dirs, files in os.walk(src):
        dirs.sort()
        for name in sorted(files):
            p = os.path.join(d, name)
            if os.path.islink(p) or not os.path.isfile(p):
                sys.exit(f"package.sh: {p} is not a regular file; the zip holds regular files only")
            z.write(p, os.path.relpath(p, src))
os.replace(dst + ".tmp", dst)
PY
echo "$out/nix-buildpack-$bp_version.zip" >&2

# Air-gapped: each architecture's Nix dependency in its buildpack's
# dependency cache, laid out as libpak v2's DependencyCache.Artifact reads
# it: <sha256>.toml beside <sha256>/<last element of the uri>.
if [ -n "$include_nix" ]; then
  for arch in "${archs[@]}"; do
    bp="$(bp_dir "$arch")"
    python3 - "$bp/buildpack.toml" "$arch" <<'PY' | while read -r sum uri; do
import sys, tomllib
for d in tomllib.load(open(sys.argv[1], "rb"))["metadata"]["dependencies"]:
    if d["id"] == "nix" and d.get("arch", "amd64") == sys.argv[2]:
        print(d["checksum"].removeprefix("sha256:"), d["uri"])
PY
      file="$bp/dependencies/$sum/${uri##*/}"
      mkdir -p "$(dirname "$file")"
      local_file=""
      for f in ${nix_tarballs[@]+"${nix_tarballs[@]}"}; do
        [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$sum" ] && local_file="$f"
      done
      if [ -n "$local_file" ]; then
        cp "$local_file" "$file"
      else
        curl -fsSL --retry 3 -o "$file" "$uri"
      fi
      if [ "$(sha256sum "$file" | cut -d' ' -f1)" != "$sum" ]; then
        echo "package.sh: $uri does not match buildpack.toml's checksum sha256:$sum" >&2
        exit 1
      fi
      python3 - "$bp/buildpack.toml" "$sum" > "$bp/dependencies/$sum.toml" <<'PY'
import json, sys, tomllib
for d in tomllib.load(open(sys.argv[1], "rb"))["metadata"]["dependencies"]:
    if d["checksum"].removeprefix("sha256:") == sys.argv[2]:
        for k, v in d.items():
            if isinstance(v, (str, list)) and all(isinstance(x, str) for x in (v if isinstance(v, list) else [v])):
                print(f"{k} = {json.dumps(v)}")
PY
      echo "$file" >&2
    done
  done
fi

# The CNB buildpack as files (an OCI image layout in a tar per target) and,
# with --publish, as an image index in a registry. pack packages a
# multi-target buildpack from a directory holding buildpack.toml and one
# directory per target, <os>/<arch>/, each with the buildpack's files.
if [ -n "$cnb" ] || [ -n "$publish" ]; then
  pack="${NIXBP_TOOLS_DIR:-$root/.tools}/bin/pack"
  if [ ! -x "$pack" ]; then
    pack="$(command -v pack || true)"
  fi
  if [ -z "$pack" ]; then
    "$root/scripts/tools.sh" pack
    pack="${NIXBP_TOOLS_DIR:-$root/.tools}/bin/pack"
  fi
  multi="$out/multi-arch"
  rm -rf "$multi"
  mkdir -p "$multi/linux"
  targets=()
  for arch in "${archs[@]}"; do
    cp -al "$(bp_dir "$arch")" "$multi/linux/$arch"
    rm "$multi/linux/$arch/buildpack.toml" # pack copies the top one in
    targets+=(--target "linux/$arch")
  done
  cp "$(bp_dir "${archs[0]}")/buildpack.toml" "$multi/buildpack.toml" # the same for each
  export PACK_HOME="${PACK_HOME:-$out/.pack}"
  if [ -n "$cnb" ]; then
    rm -f "$out"/nix-buildpack*.cnb
    "$pack" buildpack package "$out/nix-buildpack.cnb" --format file --path "$multi" "${targets[@]}" >&2
    if [ ${#archs[@]} -gt 1 ]; then
      ln "$out/nix-buildpack-linux-amd64.cnb" "$out/nix-buildpack.cnb"
    fi
    ls "$out"/nix-buildpack*.cnb >&2
  fi
  if [ -n "$publish" ]; then
    "$pack" buildpack package "$publish" --publish --path "$multi" "${targets[@]}" >&2
  fi
fi

echo "$(bp_dir "${archs[0]}")"
