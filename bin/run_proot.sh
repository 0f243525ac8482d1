#!/bin/sh
# Like run_result.sh, with the store shown at /nix through proot whatever
# else the platform allows (the earlier buildpacks' run_proot.sh). proot
# must be on PATH and ptrace allowed; Heroku's dynos allow neither today.
#
#   web: run_proot.sh bin/webserver --port "$PORT"
NIXBP_STRATEGY=proot
export NIXBP_STRATEGY
exec "$(dirname "$0")/run_result.sh" "$@"
