#!/usr/bin/env bash
# Runs the console's browser tests: playwright-core (npm) driving Debian's Chromium against
# the local runner. Installs Chromium with apt when missing (Playwright's own browser
# download is not available here). Screenshots go to target/screenshots.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if [ ! -x /usr/bin/chromium ]; then
  "$root/scripts/apt-install.sh" "the browser tests" chromium
fi

(cd "$root/console/tests" && npm ci --no-audit --no-fund --silent)
cargo build --quiet -p webhooks-local
WEBHOOKS_LOCAL_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/webhooks-local" SCREENSHOTS="$root/target/screenshots" \
  node --test "$root/console/tests/"
