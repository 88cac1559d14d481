#!/usr/bin/env bash
# The deployed-stack test (docs/contract.md section 15): `sam build` of the real template, then
# tests/stack/run.py deploys it to the AWS emulator and runs the black-box suite and the IAM
# audit through it. The emulator runs bootstraps on this machine, so the build is of a copy of
# the template whose only changes are the architecture (this machine's, x86_64) and the code's
# path (the copy lives elsewhere); unoptimised, to keep it quick. Everything it starts is
# stopped, pass or fail.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-tools.sh" lambda
"$root/scripts/install-tools.sh" stack
work="${CARGO_TARGET_DIR:-$root/target}/stack"
mkdir -p "$work"

sed -e 's/^    Architectures: \[arm64\]$/    Architectures: [x86_64]/' -e "s|^      CodeUri: \.$|      CodeUri: $root|" \
  "$root/template.yaml" >"$work/template.yaml"
for changed in '^    Architectures: \[x86_64\]$' "^      CodeUri: $root\$"; do
  grep -q "$changed" "$work/template.yaml" || { echo "the copy of template.yaml lacks /$changed/" >&2; exit 1; }
done
(cd "$root/tests/stack" && "$root/.tools/stack-venv/bin/python" -m unittest --quiet test_stack_tools)

export PATH="$root/.tools/lambda-venv/bin:$PATH" SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1
started=$(date +%s)
(cd "$root" && SAM_BUILD_MODE=debug CARGO_PROFILE_DEV_DEBUG=0 sam build --beta-features \
  --template-file "$work/template.yaml" --build-dir "$work/build" >"$work/sam-build.log" 2>&1) ||
  { tail -40 "$work/sam-build.log" >&2; exit 1; }
echo "sam build (x86_64, debug) took $(($(date +%s) - started)) s; log in $work/sam-build.log" >&2

exec "$root/.tools/stack-venv/bin/python" "$root/tests/stack/run.py" "$work/build" "$work"
