#!/bin/sh
# Like run_result.sh, with the store shown at /nix through proot whatever
# else the platform allows (the earlier buildpacks' run_proot.sh). The
# launcher runs the proot on PATH, else the static one the slug carries
# beside it in .nix/bin (linux/amd64, linux/arm64); ptrace must be allowed, which
# Heroku's dynos refuse today.
#
#   web: run_proot.sh bin/webserver --port "$PORT"
NIXBP_STRATEGY=proot
export NIXBP_STRATEGY
exec "$(dirname "$0")/run_result.sh" "$@"
