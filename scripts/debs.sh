#!/usr/bin/env bash
# Runs apt-get or apt-cache against one Debian suite and architecture with
# apt state of its own in the tools directory: the machine's apt sources,
# lists and dpkg status are not read or touched, nothing is installed. The
# arm64 pieces (scripts/proot.sh arm64, fixtures/nix-tarball/make.sh arm64,
# scripts/arm64.sh) fetch their .debs through it; packages are checked by
# apt against Debian's signed Release files as usual.
#   scripts/debs.sh SUITE ARCH apt-get download PKG=VERSION...   (into the cwd)
#   scripts/debs.sh SUITE ARCH apt-cache show PKG
#   scripts/debs.sh SUITE ARCH resolve PKG...   (PKG=VERSION of the packages
#     and dependencies, recommends excluded, that apt would install on an
#     empty system, one a line)
# The package lists are fetched on first use and again after a day, under a
# lock (several tests may run it at once).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
suite="${1:?usage: scripts/debs.sh SUITE ARCH apt-get|apt-cache|resolve ARGS...}"
arch="${2:?usage: scripts/debs.sh SUITE ARCH apt-get|apt-cache|resolve ARGS...}"
shift 2
mirror="${NIXBP_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
dir="${NIXBP_TOOLS_DIR:-$root/.tools}/apt/$suite-$arch"
mkdir -p "$dir/sources" "$dir/lists/partial" "$dir/cache/archives/partial"
cat > "$dir/sources/$suite.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite
Components: main
Architectures: $arch
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
apt=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$dir/sources"
  -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o Dir::State::status=/dev/null
  -o "APT::Architecture=$arch" -o "APT::Architectures=$arch" -o APT::Sandbox::User=root
  -o Debug::NoLocking=1)

exec 9>"$dir/.lock"
flock 9
if [ -z "$(find "$dir/lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 -print -quit)" ]; then
  apt-get "${apt[@]}" -qq update
fi
flock -u 9

case "${1:-}" in
  apt-get|apt-cache) cmd="$1"; shift; exec "$cmd" "${apt[@]}" "$@" ;;
  resolve)
    shift
    apt-get "${apt[@]}" install -s --no-install-recommends "$@" |
      awk '/^Inst /{v=$3; gsub(/[()]/, "", v); print $2 "=" v}' ;;
  *) echo "usage: scripts/debs.sh SUITE ARCH apt-get|apt-cache|resolve ARGS..." >&2; exit 2 ;;
esac
