#!/usr/bin/env bash
# instructions.sh: the packet worker's instruction count (callgrind) on one copy of the shared captures.
#
# Usage: bench/instructions.sh [--rules PATH] [--eve on|off] [-- SENSOR ARGS...]
# Steadier than the clock on a shared machine: the same input always costs the same count. One
# worker, ET Open by default, the compiled rules cached first (loading is not counted: only
# worker_main and what it calls). Needs valgrind (Debian package valgrind).
# VIGIL_BENCH_BUILD names the build directory (default build-bench, built Release); KEEP_CG=FILE
# keeps the callgrind output there for callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."

rules=../shared/corpus/rules/et-open-2024-04_jarelllama/rules
eve=on
while [ $# -gt 0 ]; do
  case "$1" in
    --rules) rules=$2; shift 2 ;;
    --eve) eve=$2; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "instructions: unknown option $1" >&2; exit 2 ;;
  esac
done
command -v valgrind >/dev/null || { echo "instructions: valgrind is not installed" >&2; exit 1; }
[ -d ../shared/corpus/pcaps ] || { echo "instructions: no ../shared corpus" >&2; exit 1; }

build=${VIGIL_BENCH_BUILD:-build-bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DVIGIL_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target vigil-sensor >/dev/null

work=$(mktemp -d /tmp/vigil-instr-XXXXXX)
trap '[ -n "${KEEP_CG:-}" ] && cp "$work/cg.out" "$KEEP_CG"; rm -rf "$work"' EXIT
args=(--threads 1 --no-progress -l "$work/logs" --set "detect.cache-dir=$work/cache")
[ "$eve" = off ] && args+=(--set outputs.eve.enabled=no)
if [ -d "$rules" ]; then for f in "$rules"/*.rules; do args+=(-S "$f"); done; else args+=(-S "$rules"); fi
while IFS= read -r f; do args+=(-r "$f"); done < <(find ../shared/corpus/pcaps -type f \
    \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) -not -path '*/malformed/*' | sort)
args+=("$@")

# The cache must be built under valgrind too: Hyperscan's platform (the cache key) differs there.
valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect=nothing \
    "$build/vigil-sensor" "${args[@]}" >/dev/null 2>&1 || true
valgrind --tool=callgrind --toggle-collect=worker_main --callgrind-out-file="$work/cg.out" \
    "$build/vigil-sensor" "${args[@]}" >"$work/log" 2>&1
grep -E 'packets \(' "$work/log" | sed 's/^/instructions: /'
total=$(callgrind_annotate "$work/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "instructions: worker $total (EVE $eve)"
