#!/usr/bin/env bash
# Runs the console's browser tests: playwright-core (npm) driving Debian's Chromium against
# the local runner. Installs Chromium with apt when missing (Playwright's own browser
# download is not available here). Screenshots go to target/screenshots.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

(cd "$root/console/tests" && npm ci --no-audit --no-fund --silent)
cargo build --quiet -p webhooks-local
WEBHOOKS_LOCAL_BIN="$root/target/debug/webhooks-local" SCREENSHOTS="$root/target/screenshots" \
  node --test "$root/console/tests/"
