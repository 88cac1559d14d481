#!/usr/bin/env bash
# A flame graph of `make load`'s phase 2 (publish and deliver on the in-process store and
# queue): perf samples the load binary's every thread with DWARF call graphs (the binaries
# keep no frame pointers) for `FLAMEGRAPH_SECONDS` (5) from the phase's first line, and
# inferno draws them into target/flamegraph-load.svg. Needs `perf` and the right to record
# (root, or kernel.perf_event_paranoid at most 1); inferno is installed into .tools/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${FLAMEGRAPH_SECONDS:-5}
inferno="$root/.tools/inferno/bin"
if [ ! -x "$inferno/inferno-flamegraph" ]; then
  echo "installing inferno 0.12.8 into .tools/inferno" >&2
  cargo install --quiet --locked --root "$root/.tools/inferno" inferno --version 0.12.8
fi
command -v perf >/dev/null || { echo "perf is missing: apt-get install linux-perf" >&2; exit 1; }
perf record --quiet -o /dev/null true 2>/dev/null ||
  { echo "perf may not record here: run as root, or set kernel.perf_event_paranoid to 1" >&2; exit 1; }
cargo build --profile load -p webhooks-bench --bin webhooks-load

out="$root/target/flamegraph"
mkdir -p "$out"
rm -f "$out/perf.data" "$out/load.txt"
scripts/with-services.sh bash -c '
  set -euo pipefail
  out=$1 seconds=$2
  target/load/webhooks-load >"$out/load.txt" 2>&1 &
  load=$!
  until grep -q "^Phase 2" "$out/load.txt"; do
    kill -0 "$load" 2>/dev/null || { cat "$out/load.txt"; exit 1; }
    sleep 0.2
  done
  perf record --quiet -F 499 --call-graph dwarf,16384 -p "$load" -o "$out/perf.data" -- sleep "$seconds"
  status=0
  wait "$load" || status=$?
  cat "$out/load.txt"
  exit "$status"
' _ "$out" "$seconds"
perf script -i "$out/perf.data" | "$inferno/inferno-collapse-perf" >"$out/stacks.folded"
"$inferno/inferno-flamegraph" --minwidth 0.25 --title "make load, phase 2: ${seconds} s of publish and deliver" \
  <"$out/stacks.folded" >"$root/target/flamegraph-load.svg"
echo "target/flamegraph-load.svg (stacks in target/flamegraph/stacks.folded)"
