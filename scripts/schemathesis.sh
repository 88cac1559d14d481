#!/usr/bin/env bash
# Schema-driven fuzzing: schemathesis (settings in schemathesis.toml) against the local runner,
# with the dev token the runner prints, and the OpenAPI document the runner serves.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-tools.sh"
cargo build --quiet -p webhooks-local

out=$(mktemp)
# Thousands of requests from one token: limits this high leave the fuzzing to explore the
# routes, while the 429 answers are checked by the integration tests.
PORT=0 RUST_LOG=warn WEBHOOKS_API_RATE=1000/s,100000 WEBHOOKS_PUBLISH_RATE=1000/s,100000 \
  "${CARGO_TARGET_DIR:-$root/target}/debug/webhooks-local" >"$out" 2>&1 &
runner=$!
trap 'kill $runner 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 1 100); do
  grep -q "export TOKEN=" "$out" && break
  sleep 0.1
done
# `|| true`: under pipefail a grep that finds nothing would end the script before it says why.
url=$(grep -o 'on http://127\.0\.0\.1:[0-9]*' "$out" | head -1 | cut -d' ' -f2 || true)
token=$(grep -o 'export TOKEN=[^ ]*' "$out" | cut -d= -f2 || true)
[ -n "$url" ] && [ -n "$token" ] || { echo "the runner did not start:" >&2; cat "$out" >&2; exit 1; }

cd "$root"
.tools/venv/bin/st run "$url/api/openapi.yaml" -H "Authorization: Bearer $token"
