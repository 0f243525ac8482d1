#!/usr/bin/env bash
# Makes the builder image for an offline `pack build`: the base images of
# scripts/docker/images.sh, the packaged buildpack, and the CNB lifecycle
# built from the Go module proxy (scripts/tools.sh lifecycle), handed to pack
# as a local lifecycle tarball because pack would otherwise download one.
# Usage: scripts/docker/builder.sh BUILDPACK.cnb [BUILDER-NAME [BASE]]
# BASE is busybox (our images, scripts/docker/images.sh; the default) or
# stock (Debian with no proot and no /nix, scripts/docker/stock-images.sh).
# BUILDER-NAME defaults to nixbp/builder:BASE. Needs DOCKER_HOST.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
tools="${NIXBP_TOOLS_DIR:-$root/.tools}"
cnb="$(cd "$(dirname "${1:?usage: builder.sh BUILDPACK.cnb [BUILDER-NAME [BASE]]}")" && pwd)/$(basename "$1")"
base="${3:-busybox}"
name="${2:-nixbp/builder:$base}"
case "$base" in
  busybox) stack=io.nixbp.busybox images="$root/scripts/docker/images.sh" ;;
  stock) stack=io.buildpacks.stacks.bookworm images="$root/scripts/docker/stock-images.sh" ;;
  *) echo "builder.sh: unknown base $base: expected busybox or stock" >&2; exit 2 ;;
esac
lifecycle_version=0.21.14

"$root/scripts/tools.sh" lifecycle
"$root/scripts/tools.sh" pack
"$images"

# lifecycle.toml as the lifecycle's release tarballs carry it (pack reads the
# APIs from it), beside lifecycle/ with the binaries and phase links.
tarball="$tools/lifecycle-v$lifecycle_version+linux.x86-64.tgz"
if [ ! -f "$tarball" ] || [ "$tools/lifecycle-$lifecycle_version/lifecycle" -nt "$tarball" ]; then
  work="$(mktemp -d)"
  cp -a "$tools/lifecycle-$lifecycle_version" "$work/lifecycle"
  cat > "$work/lifecycle.toml" <<TOML
[apis]
[apis.buildpack]
  deprecated = []
  supported = ["0.7", "0.8", "0.9", "0.10", "0.11", "0.12"]
[apis.platform]
  deprecated = []
  supported = ["0.7", "0.8", "0.9", "0.10", "0.11", "0.12", "0.13", "0.14", "0.15"]

[api]
  platform = "0.7"
  buildpack = "0.7"

[lifecycle]
  version = "$lifecycle_version"
  sbom-formats = ["application/vnd.cyclonedx+json", "application/spdx+json", "application/vnd.syft+json"]
TOML
  tar -C "$work" --owner=0 --group=0 --numeric-owner -czf "$tarball.tmp" lifecycle.toml lifecycle
  mv "$tarball.tmp" "$tarball"
  rm -rf "$work"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat > "$work/builder.toml" <<TOML
description = "nix-buildpack on $base, made offline"

[[buildpacks]]
  uri = "$cnb"

[[order]]
  [[order.group]]
    id = "nix-buildpack/nix"

[lifecycle]
  uri = "$tarball"

[build]
  image = "nixbp/build:$base"

[[run.images]]
  image = "nixbp/run:$base"

[stack]
  id = "$stack"
  build-image = "nixbp/build:$base"
  run-image = "nixbp/run:$base"
TOML
PACK_HOME="${PACK_HOME:-$tools/pack-home}" "$tools/bin/pack" builder create "$name" \
  --config "$work/builder.toml" --pull-policy never >&2
echo "$name"
