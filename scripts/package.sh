#!/usr/bin/env bash
# Packages the buildpack. Usage:
#   scripts/package.sh [--nix-tarball FILE] OUTDIR
# Makes OUTDIR/buildpack: the CNB buildpack directory (buildpack.toml and
# static binaries in bin/) for linux/amd64.
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
echo "$bp"
