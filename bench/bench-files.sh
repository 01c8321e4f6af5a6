#!/usr/bin/env bash
# bench-files.sh: HTTP file carving + hashing + YARA: MB/s and files/s of the sensor on generated downloads.
#
# Usage: bench/bench-files.sh [--files N] [--size BYTES] [--reps N]
# Writes N downloads of SIZE bytes (default 200 x 262144) with bench-files-gen, then times
# vigil-sensor -r on it: without YARA, with the bundled rules/yara, and with signature-base
# (../shared/corpus, when present). MB/s counts file bytes (fileinfo size) per wall second,
# the best of --reps runs (default 3). VIGIL_BENCH_BUILD names the build directory
# (default build-bench, built Release).
set -euo pipefail
cd "$(dirname "$0")/.."

nfiles=200
size=262144
reps=3
while [ $# -gt 0 ]; do
  case "$1" in
    --files) nfiles=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "bench-files: unknown argument $1" >&2; exit 2 ;;
  esac
done

build=${VIGIL_BENCH_BUILD:-build-bench}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DVIGIL_TESTS=OFF >/dev/null
fi
cmake --build "$build" -j2 --target vigil-sensor bench-files-gen >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/bench-files-gen" "$tmp/files.pcap" "$nfiles" "$size"

run() { # label, extra sensor arguments...
  local label=$1; shift
  local best=""
  for _ in $(seq "$reps"); do
    rm -rf "$tmp/out"; mkdir "$tmp/out"
    local t0 t1
    t0=$(date +%s.%N)
    "$build/vigil-sensor" -r "$tmp/files.pcap" -l "$tmp/out" "$@" >/dev/null 2>"$tmp/err" ||
      { cat "$tmp/err" >&2; exit 1; }
    t1=$(date +%s.%N)
    local s
    s=$(echo "$t1 - $t0" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$s < $best" | bc -l)" = 1 ]; then best=$s; fi
  done
  local n bytes
  n=$(grep -c '"event_type":"fileinfo"' "$tmp/out/eve.json" || true)
  bytes=$(grep '"event_type":"fileinfo"' "$tmp/out/eve.json" | sed -n 's/.*"size":\([0-9]*\).*/\1/p' |
    awk '{s+=$1} END {print s+0}')
  printf '%-22s %5d files %8.1f MB  %6.3f s  %8.1f MB/s  %8.1f files/s\n' "$label" "$n" \
    "$(echo "$bytes / 1000000" | bc -l)" "$best" "$(echo "$bytes / 1000000 / $best" | bc -l)" \
    "$(echo "$n / $best" | bc -l)"
}

echo "bench-files: $nfiles downloads of $size bytes, best of $reps"
run "no YARA"
run "rules/yara (bundled)" --yara-rules rules/yara
sb=../shared/corpus/yara/Neo23x0_signature-base/yara
if [ -d "$sb" ]; then
  run "signature-base" --yara-rules "$sb"
fi
