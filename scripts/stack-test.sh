#!/usr/bin/env bash
# The deployed-stack test (docs/contract.md section 15): `sam build` of the real template for
# this machine (scripts/sam-build-x86_64.sh), then tests/stack/run.py deploys it to the AWS
# emulator and runs the black-box suite and the IAM audit through it. Everything it starts is
# stopped, pass or fail.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-tools.sh" stack
work="${CARGO_TARGET_DIR:-$root/target}/stack"
(cd "$root/tests/stack" && "$root/.tools/stack-venv/bin/python" -m unittest --quiet test_stack_tools)
"$root/scripts/sam-build-x86_64.sh"
export PATH="$root/.tools/lambda-venv/bin:$PATH" SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1
exec "$root/.tools/stack-venv/bin/python" "$root/tests/stack/run.py" "$work/build" "$work"
