#!/usr/bin/env bash
# The demo: builds an app (default fixtures/apps/hello-web) with this
# buildpack through the official CNB lifecycle and prints the HTTP answers of
# its web process. Arguments go to e2e/demo:
#   scripts/demo.sh -app DIR -env NAME=VALUE ... -get PATH ...
# Installs what it needs first (scripts/setup.sh); run as root on Debian 12.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
cd "$root"
exec go run ./e2e/demo -repo "$root" -tools "${NIXBP_TOOLS_DIR:-$root/.tools}" "$@"
