#!/usr/bin/env bash
# The demo: builds fixtures/apps/hello-web with this buildpack through the
# official CNB lifecycle and prints the HTTP answer of its web process.
# Installs what it needs first (scripts/setup.sh); run as root on Debian 12.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
cd "$root"
exec go run ./e2e/demo -repo "$root" -tools "${NIXBP_TOOLS_DIR:-$root/.tools}" "$@"
