#!/usr/bin/env bash
# Runs the console's browser tests: playwright-core (npm) driving Debian's Chromium against
# the local runner. Installs Chromium with apt when missing (Playwright's own browser
# download is not available here). Screenshots go to target/screenshots.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium (apt-get, as root or through sudo)" >&2
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    # Never a password prompt in the middle of make test: say what is missing instead.
    if ! command -v sudo >/dev/null || ! sudo -n true 2>/dev/null; then
      echo "the browser tests need Chromium at /usr/bin/chromium: install it (apt-get install chromium)," >&2
      echo "or run make test as root or with password-less sudo" >&2
      exit 1
    fi
    sudo="sudo -n"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

(cd "$root/console/tests" && npm ci --no-audit --no-fund --silent)
cargo build --quiet -p webhooks-local
WEBHOOKS_LOCAL_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/webhooks-local" SCREENSHOTS="$root/target/screenshots" \
  node --test "$root/console/tests/"
