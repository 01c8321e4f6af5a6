#!/usr/bin/env bash
# bench-files-ab.sh: two or more vigil-sensor binaries interleaved on the same file downloads: worker CPU with YARA.
#
# Usage: bench/bench-files-ab.sh [--reps N] [--rules none|bundled|signature-base] BIN...
# Writes 200 downloads of 256 KiB (bench-files-gen, as bench-files.sh does), then runs each
# BIN in turn, --reps times (default 5), reading the capture at full speed with one worker, and
# prints for each BIN the median and all values of stats.worker.cpu_seconds. Rules are loaded
# from a yara.cache-dir warmed by a first run. Used to compare a build with an older one (the
# buffer reserve, docs/files.md "Bench"): build the old one elsewhere and pass both binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
reps=5
rules=signature-base
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) reps=$2; shift 2 ;;
    --rules) rules=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    -*) echo "bench-files-ab: unknown argument $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { echo "bench-files-ab: give at least one vigil-sensor binary" >&2; exit 2; }
build=${VIGIL_BENCH_BUILD:-build-bench}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DVIGIL_TESTS=OFF >/dev/null
fi
cmake --build "$build" -j2 --target bench-files-gen >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/bench-files-gen" "$tmp/files.pcap" 200 262144
args=()
case "$rules" in
  none) ;;
  bundled) args=(--yara-rules rules/yara --set "yara.cache-dir=$tmp/cache") ;;
  signature-base)
    sb=../shared/corpus/yara/Neo23x0_signature-base/yara
    [ -d "$sb" ] || { echo "bench-files-ab: $sb is missing" >&2; exit 2; }
    args=(--yara-rules "$sb" --set "yara.cache-dir=$tmp/cache") ;;
  *) echo "bench-files-ab: --rules none, bundled or signature-base" >&2; exit 2 ;;
esac
once() { # binary: appends its worker CPU seconds to $tmp/<index>
  rm -rf "$tmp/out"; mkdir "$tmp/out"
  "$1" -r "$tmp/files.pcap" -l "$tmp/out" --no-progress --threads 1 "${args[@]}" \
      >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
  python3 -c 'import json,sys
st=[json.loads(l)["stats"] for l in open(sys.argv[1]) if "\"stats\"" in l][-1]
print(st["worker"]["cpu_seconds"])' "$tmp/out/eve.json"
}
once "$1" >/dev/null # warms the compiled-rules cache
for ((r = 0; r < reps; r++)); do
  i=0
  for b in "$@"; do
    once "$b" >>"$tmp/$i"
    i=$((i + 1))
  done
done
echo "bench-files-ab: rules $rules, 200 x 256 KiB at full speed, one worker, $reps interleaved runs"
i=0
for b in "$@"; do
  python3 -c 'import statistics,sys
v=[float(l) for l in open(sys.argv[1])]
print("%-40s worker CPU median %.3f s (%s)" % (sys.argv[2], statistics.median(v), " ".join("%.3f" % x for x in v)))' "$tmp/$i" "$b"
  i=$((i + 1))
done
