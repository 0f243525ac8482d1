#!/usr/bin/env bash
# Runs a command as CI runs the suite: on a fresh machine's /nix. The command
# runs in a private mount namespace where /nix is an empty tmpfs of its own,
# so nothing it runs can read the host's /nix, or what an earlier run left
# there, and nothing it writes to /nix outlives it. Tests that need a native
# /nix make their own inside it.
#
# Afterwards the host's /nix is compared with what it was before: a
# difference is a write that escaped the namespace (a daemon started outside
# it, a path through /proc/1/root, nsenter) and fails the run, naming what
# changed. A read cannot escape by path: inside, /nix is the empty tmpfs, so
# a test that depends on the host's store fails there (as on a fresh machine).
#
# Usage: scripts/fresh-nix.sh COMMAND [ARG...]
#   scripts/fresh-nix.sh go test ./e2e -run TestX    # one test, as CI runs it
# Inside, NIXBP_FRESH_NIX_INSIDE names the directory and NIXBP_FRESH_NIX is
# the tmpfs's token: its mount source is nixbp-fresh-<token>, which the
# suite's TestSuiteRunsOnFreshNix checks. Needs root (CI runs as root).
# NIXBP_FRESH_NIX_DIR=DIR protects DIR instead of /nix (the script's own
# tests use a temporary directory). NIXBP_FRESH_NIX_CHECK=warn reports a
# change of the host's /nix without failing, for a machine where other
# people's runs write the host's /nix meanwhile; CI leaves it strict.
set -euo pipefail
dir="${NIXBP_FRESH_NIX_DIR:-/nix}"
[ $# -gt 0 ] || { echo "usage: scripts/fresh-nix.sh COMMAND [ARG...]" >&2; exit 2; }
if [ "${NIXBP_FRESH_NIX_INSIDE:-}" = "$dir" ]; then
  exec "$@" # already inside this directory's fresh view
fi
if [ "$(id -u)" != 0 ]; then
  echo "fresh-nix.sh: needs root to make a private mount namespace (CI runs as root)" >&2
  exit 1
fi

# listing: every entry of the host's directory with its type, mode, owner,
# size and mtime; an absent and an empty directory are the same (the mount
# point is made below, and is never removed: another run may be using it).
listing() {
  if [ -d "$dir" ]; then
    find "$dir" -xdev -mindepth 1 -printf '%y %m %U:%G %s %T@ %p\n' 2>/dev/null | LC_ALL=C sort
  elif [ -e "$dir" ] || [ -L "$dir" ]; then
    echo "$dir is not a directory"
  fi
}

work="$(mktemp -d /tmp/nixbp-fresh-nix.XXXXXX)"
trap 'rm -rf "$work"' EXIT
listing >"$work/before"
mkdir -p "$dir"
token="$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
set +e
NIXBP_FRESH_NIX_INSIDE="$dir" NIXBP_FRESH_NIX="$token" \
  unshare --mount --propagation private -- /bin/sh -c '
    mount -t tmpfs -o mode=0755 "nixbp-fresh-$NIXBP_FRESH_NIX" "$0" || exit 125
    exec "$@"' "$dir" "$@"
status=$?
set -e
listing >"$work/after"
if ! cmp -s "$work/before" "$work/after"; then
  {
    echo "fresh-nix.sh: $dir on the host changed while the command ran in its fresh view:"
    echo "something wrote to the host's $dir from outside the private mount namespace"
    echo "(a process started outside it, /proc/1/root$dir, nsenter), or another process on"
    echo "this machine did meanwhile. The differences (< before, > after), first 40:"
    diff "$work/before" "$work/after" | grep '^[<>]' | head -40 || true
  } >&2
  if [ "${NIXBP_FRESH_NIX_CHECK:-}" = warn ]; then
    echo "fresh-nix.sh: NIXBP_FRESH_NIX_CHECK=warn: not failing the run for it" >&2
  elif [ "$status" = 0 ]; then
    status=3
  fi
fi
exit "$status"
