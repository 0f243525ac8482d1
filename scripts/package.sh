#!/usr/bin/env bash
# Packages the buildpack. Usage:
#   scripts/package.sh [--nix-tarball FILE] OUTDIR
# Makes OUTDIR/buildpack: the CNB buildpack directory (buildpack.toml and
# static binaries in bin/) for linux/amd64, and
# OUTDIR/nix-buildpack-<version>.tgz: the Heroku-style buildpack (below).
# --nix-tarball FILE pins the Nix dependency to FILE (its version from the
# file name, its sha256 computed), for offline and air-gapped builders and
# for the tests, which map that checksum to the file with a
# dependency-mapping binding.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
nix_tarball=""
while [ $# -gt 1 ]; do
  case "$1" in
    --nix-tarball) nix_tarball="$2"; shift 2 ;;
    *) echo "package.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
out="${1:?usage: scripts/package.sh [--nix-tarball FILE] OUTDIR}"
bp="$out/buildpack"
rm -rf "$bp"
mkdir -p "$bp/bin"
"$root/scripts/build-binaries.sh" "$out/lib" amd64
for name in detect build nixbp-launch nixbp; do
  [ -f "$out/lib/linux-amd64/$name" ] && cp "$out/lib/linux-amd64/$name" "$bp/bin/$name"
done
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
# compile, release, run_result.sh, run_proot.sh; build for CNB), the
# buildpack.toml above (with its pin) and static binaries in
# lib/linux-amd64 and lib/linux-arm64, which the bin/ scripts pick by
# machine.
"$root/scripts/build-binaries.sh" "$out/lib" arm64
bp_version="$(sed -n 's/^  version = "\(.*\)"/\1/p' "$root/buildpack.toml" | head -1)"
heroku="$out/heroku"
rm -rf "$heroku"
mkdir -p "$heroku/bin" "$heroku/lib"
for name in detect build compile release run_result.sh run_proot.sh; do
  cp "$root/bin/$name" "$heroku/bin/$name"
done
cp -r "$out/lib/linux-amd64" "$out/lib/linux-arm64" "$heroku/lib/"
cp "$bp/buildpack.toml" "$heroku/buildpack.toml"
[ -f "$root/README.md" ] && cp "$root/README.md" "$heroku/"
tar -czf "$out/nix-buildpack-$bp_version.tgz" --owner=0 --group=0 --numeric-owner -C "$heroku" .
echo "$out/nix-buildpack-$bp_version.tgz" >&2

echo "$bp"
