#!/bin/sh
# Runs a command of the app's Nix build result with the slug's store shown
# at /nix (by nixbp-launch: native, relocated, user namespace or proot, the
# first that works, or NIXBP_STRATEGY), as the earlier Heroku Nix buildpacks'
# Procfiles did:
#
#   web: run_result.sh bin/webserver --port "$PORT"
#
# A relative path with a slash (bin/webserver) is taken inside the result
# (.nix/result); any other command is looked up on PATH inside the view,
# where .profile.d/nix.sh put runtime.json's path first. bin/compile copies
# this script into the slug's .nix/bin, which .profile.d/nix.sh puts on PATH.
set -e
if [ $# -eq 0 ]; then
  echo "usage: run_result.sh COMMAND [ARG...]" >&2
  exit 2
fi
nix_dir="${NIXBP_NIX_DIR:-$(cd "$(dirname "$0")/.." && pwd)}"
result="$(readlink "$nix_dir/result" 2>/dev/null || true)"
cmd="$1"
shift
case "$cmd" in
  /*|./*|../*) ;;
  */*)
    # Test in the slug's copy of the store: /nix is not there outside the
    # view. A relocated result (/app/.nixs/...) is where it runs.
    case "$result" in
      /nix/*) in_slug="$nix_dir/${result#/nix/}/$cmd" ;;
      # Relocated: the slug's .nixs holds it (a /tmp link to it may not
      # exist before the launcher's first start).
      *) in_slug="$nix_dir/../.nixs/${result##*/}/$cmd" ;;
    esac
    if [ -n "$result" ] && { [ -e "$in_slug" ] || [ -L "$in_slug" ]; }; then
      cmd="$result/$cmd"
    fi ;;
esac
# nixbp-launch takes one shell command line: quote every word.
quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
line="$(quote "$cmd")"
for arg in "$@"; do line="$line $(quote "$arg")"; done
exec "$nix_dir/bin/nixbp-launch" --nix-dir "$nix_dir" -- "$line"
