#!/usr/bin/env bash
# Packages the buildpack. Usage:
#   scripts/package.sh [--nix-tarball FILE] [--include-nix] [--no-cnb] OUTDIR
# Makes OUTDIR/buildpack: the CNB buildpack directory (buildpack.toml,
# static binaries in bin/ including the bundled proot, and sources/, the
# Debian sources proot was built from) for linux/amd64, and
# OUTDIR/nix-buildpack-<version>.tgz: the Heroku-style buildpack (below),
# and OUTDIR/nix-buildpack-<version>.zip, the same files for Cloud Foundry
# and Kf (`cf create-buildpack` takes a zip, and their builder downloads a
# buildpack URL only when it ends in .zip).
# --nix-tarball FILE pins the Nix dependency to FILE (its version from the
# file name, its sha256 computed), for offline and air-gapped builders and
# for the tests, which map that checksum to the file with a
# dependency-mapping binding.
# OUTDIR/nix-buildpack.cnb is the CNB buildpack as one file for
# `pack build --buildpack` and builder.toml, made by `pack buildpack package`
# (no Docker needed; pack is built into .tools/ if missing); --no-cnb skips it.
# --include-nix puts the Nix tarball (the --nix-tarball FILE, else a download
# of buildpack.toml's uri, checked against its checksum) into the
# buildpack's dependency cache, dependencies/<sha256>/<file> with
# dependencies/<sha256>.toml, which libpak's DependencyCache reuses ("Reusing
# cached download from buildpack"), so an air-gapped builder needs nothing
# else. The version everywhere is buildpack.toml's [buildpack] version.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
nix_tarball=""
include_nix=""
cnb=1
while [ $# -gt 1 ]; do
  case "$1" in
    --nix-tarball) nix_tarball="$2"; shift 2 ;;
    --include-nix) include_nix=1; shift ;;
    --no-cnb) cnb=""; shift ;;
    *) echo "package.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
out="${1:?usage: scripts/package.sh [--nix-tarball FILE] [--include-nix] [--no-cnb] OUTDIR}"
bp="$out/buildpack"
rm -rf "$bp"
mkdir -p "$bp/bin"
"$root/scripts/build-binaries.sh" "$out/lib" amd64
for name in detect build nixbp-launch nixbp; do
  [ -f "$out/lib/linux-amd64/$name" ] && cp "$out/lib/linux-amd64/$name" "$bp/bin/$name"
done
# The bundled static proot (scripts/proot.sh, cached in .tools/) with the
# Debian sources it was built from, for builders and run images that have
# no proot: bin/proot here, lib/linux-amd64/proot in the Heroku-style
# buildpack, sources/ in both (README "Bundled proot").
"$root/scripts/proot.sh" "$out/proot"
cp "$out/proot/proot" "$out/lib/linux-amd64/proot"
cp "$out/proot/proot" "$bp/bin/proot"
cp -r "$out/proot/sources" "$bp/sources"
cp "$root/buildpack.toml" "$bp/buildpack.toml"
[ -f "$root/README.md" ] && cp "$root/README.md" "$bp/"
if [ -n "$nix_tarball" ]; then
  base="$(basename "$nix_tarball")"
  version="${base#nix-}"; version="${version%-x86_64-linux.tar.xz}"
  sum="$(sha256sum "$nix_tarball" | cut -d' ' -f1)"
  python3 - "$bp/buildpack.toml" "$version" "$sum" "$base" <<'PY'
import re, sys
path, version, sha, base = sys.argv[1:]
s = open(path).read()
s = re.sub(r'version = "2\.34\.8"', f'version = "{version}"', s)
s = re.sub(r'uri = "https://releases\.nixos\.org/nix/[^"]*"',
           f'uri = "https://releases.nixos.org/nix/nix-{version}/{base}"', s)
s = re.sub(r'checksum = "sha256:[0-9a-f]+"', f'checksum = "sha256:{sha}"', s)
s = s.replace("nix@2.34.8", f"nix@{version}").replace("nix:2.34.8", f"nix:{version}")
open(path, "w").write(s)
PY
fi

# The Heroku-style buildpack for Heroku, Dokku (herokuish), Cloud Foundry and
# Kf: OUTDIR/nix-buildpack-<version>.tgz holding the bin/ scripts (detect,
# compile, release, test-compile and test for Heroku CI, run_result.sh,
# run_proot.sh; build for CNB), the
# buildpack.toml above (with its pin) and static binaries in
# lib/linux-amd64 and lib/linux-arm64, which the bin/ scripts pick by
# machine; lib/linux-amd64/proot is the bundled proot (no arm64 build: there
# the platform's proot is used) and sources/ its sources.
"$root/scripts/build-binaries.sh" "$out/lib" arm64
bp_version="$(sed -n 's/^  version = "\(.*\)"/\1/p' "$root/buildpack.toml" | head -1)"
heroku="$out/heroku"
rm -rf "$heroku"
mkdir -p "$heroku/bin" "$heroku/lib"
for name in detect build compile release test-compile test run_result.sh run_proot.sh; do
  cp "$root/bin/$name" "$heroku/bin/$name"
done
cp -r "$out/lib/linux-amd64" "$out/lib/linux-arm64" "$heroku/lib/"
cp "$bp/buildpack.toml" "$heroku/buildpack.toml"
cp -r "$out/proot/sources" "$heroku/sources"
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

# Air-gapped: every Nix dependency in the buildpack's dependency cache, laid
# out as libpak v2's DependencyCache.Artifact reads it: <sha256>.toml beside
# <sha256>/<last element of the uri>.
if [ -n "$include_nix" ]; then
  python3 - "$bp/buildpack.toml" <<'PY' | while read -r sum uri; do
import sys, tomllib
for d in tomllib.load(open(sys.argv[1], "rb"))["metadata"]["dependencies"]:
    if d["id"] == "nix":
        print(d["checksum"].removeprefix("sha256:"), d["uri"])
PY
    file="$bp/dependencies/$sum/${uri##*/}"
    mkdir -p "$(dirname "$file")"
    if [ -n "$nix_tarball" ] && [ "$(sha256sum "$nix_tarball" | cut -d' ' -f1)" = "$sum" ]; then
      cp "$nix_tarball" "$file"
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
fi

# The CNB buildpack as one file (an OCI image layout in a tar).
if [ -n "$cnb" ]; then
  pack="${NIXBP_TOOLS_DIR:-$root/.tools}/bin/pack"
  if [ ! -x "$pack" ]; then
    pack="$(command -v pack || true)"
  fi
  if [ -z "$pack" ]; then
    "$root/scripts/tools.sh" pack
    pack="${NIXBP_TOOLS_DIR:-$root/.tools}/bin/pack"
  fi
  rm -f "$out/nix-buildpack.cnb"
  PACK_HOME="${PACK_HOME:-$out/.pack}" "$pack" buildpack package "$out/nix-buildpack.cnb" \
    --format file --path "$bp" >&2
  echo "$out/nix-buildpack.cnb" >&2
fi

echo "$bp"
