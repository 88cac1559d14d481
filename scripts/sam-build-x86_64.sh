#!/usr/bin/env bash
# `sam build` of the real template for this machine: what the stack test deploys and the SAM
# local step invokes. The build is of a copy of the template whose only changes are the
# architecture (this machine's, x86_64: the emulator runs bootstraps here, and SAM's containers
# run this machine's images) and the code's path (the copy lives elsewhere); unoptimised, to
# keep it quick. Writes target/stack/template.yaml and target/stack/build/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-tools.sh" lambda
work="${CARGO_TARGET_DIR:-$root/target}/stack"
mkdir -p "$work"

sed -e 's/^    Architectures: \[arm64\]$/    Architectures: [x86_64]/' -e "s|^      CodeUri: \.$|      CodeUri: $root|" \
  "$root/template.yaml" >"$work/template.yaml"
for changed in '^    Architectures: \[x86_64\]$' "^      CodeUri: $root\$"; do
  grep -q "$changed" "$work/template.yaml" || { echo "the copy of template.yaml lacks /$changed/" >&2; exit 1; }
done

export PATH="$root/.tools/lambda-venv/bin:$PATH" SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1
started=$(date +%s)
(cd "$root" && SAM_BUILD_MODE=debug CARGO_PROFILE_DEV_DEBUG=0 sam build --beta-features \
  --template-file "$work/template.yaml" --build-dir "$work/build" >"$work/sam-build.log" 2>&1) ||
  { tail -40 "$work/sam-build.log" >&2; exit 1; }
echo "sam build (x86_64, debug) took $(($(date +%s) - started)) s; log in $work/sam-build.log" >&2
