#!/usr/bin/env bash
# Builds every Lambda function as AWS would run it (`cargo lambda build --release --arm64`,
# zipped) and prints each artifact's size. cargo-lambda and zig come from PyPI into
# .tools/lambda-venv (install-tools.sh lambda); the arm64 standard library from rustup.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-tools.sh" lambda
rustup target list --installed | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
export PATH="$root/.tools/lambda-venv/bin:$PATH"
cd "$root"
functions=$(ls functions)
for name in $functions; do flags+=(--package "$name"); done
cargo lambda build --release --arm64 --output-format zip "${flags[@]}" >&2
echo "Lambda artifacts (cargo lambda build --release --arm64, zipped):"
for name in $functions; do
  zip="${CARGO_TARGET_DIR:-target}/lambda/$name/bootstrap.zip"
  printf '  %-18s %7.2f MB zipped, %7.2f MB unzipped\n' "$name" \
    "$(python3 -c "import os,sys; print(os.path.getsize(sys.argv[1])/1e6)" "$zip")" \
    "$(python3 -c "import zipfile,sys; print(sum(i.file_size for i in zipfile.ZipFile(sys.argv[1]).infolist())/1e6)" "$zip")"
done
