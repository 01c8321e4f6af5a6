#!/usr/bin/env bash
# bench-files.sh: HTTP file carving + hashing + YARA: packet-worker CPU with and without YARA, and the scan rate.
#
# Usage: bench/bench-files.sh [--files N] [--size BYTES] [--reps N] [--threads N] [--pps N]
# Writes N downloads of SIZE bytes (default 200 x 262144) with bench-files-gen, then runs
# vigil-sensor -r on it --reps times (default 3) in each configuration: files on without YARA,
# the bundled rules/yara, and signature-base (../shared/corpus, when present) with its compiled
# rules loaded from a yara.cache-dir warmed by one run first (so rule loading is not counted).
# For each it prints the packet workers' own CPU seconds (stats.worker.cpu_seconds, the median of
# the runs) and its difference from the run without YARA, and the scanner pool's steady-state
# rate: files and MB scanned per second of scanner CPU inside yr_scanner_scan_mem
# (stats.files.yara_scan_cpu_seconds) and per second of wall time inside the scans. Wall time
# is printed too, but on a shared machine only the CPU figures are comparable.
# Read at full speed, the worker runs ahead of a slow rule set and the queue holds most files
# (fresh memory for each): a burst, not a steady state. So the same runs are repeated with the
# capture replayed through a FIFO at --pps packets/s (default 30000: about 80 files/s of 256 KiB,
# which signature-base's scanner keeps up with), where the pool is in steady state.
# VIGIL_BENCH_BUILD names the build directory (default build-bench, built Release).
set -euo pipefail
cd "$(dirname "$0")/.."

nfiles=200
size=262144
reps=3
threads=1
pps=30000
while [ $# -gt 0 ]; do
  case "$1" in
    --files) nfiles=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --pps) pps=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "bench-files: unknown argument $1" >&2; exit 2 ;;
  esac
done

build=${VIGIL_BENCH_BUILD:-build-bench}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DVIGIL_TESTS=OFF >/dev/null
fi
cmake --build "$build" -j2 --target vigil-sensor bench-files-gen bench-pace-pcap >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/bench-files-gen" "$tmp/files.pcap" "$nfiles" "$size"

# One run; appends "wall worker_cpu files bytes scanned scanned_bytes scan_s scan_cpu_s" to $tmp/$label.
paced=0
once() { # label, extra sensor arguments...
  local label=$1; shift
  rm -rf "$tmp/out"; mkdir "$tmp/out"
  local t0 t1 in=$tmp/files.pcap
  if [ "$paced" = 1 ]; then
    in=$tmp/fifo; rm -f "$in"; mkfifo "$in"
  fi
  local hog=""
  if [[ "$label" == *+busy ]]; then
    (while :; do :; done) &
    hog=$!
  fi
  t0=$(date +%s.%N)
  "$build/vigil-sensor" -r "$in" -l "$tmp/out" --no-progress --threads "$threads" \
      "$@" >/dev/null 2>"$tmp/err" &
  local pid=$!
  if [ "$paced" = 1 ]; then
    "$build/bench-pace-pcap" "$tmp/files.pcap" "$in" "$pps" "$(echo "$npkts / $pps" | bc -l)" >/dev/null
  fi
  wait "$pid" || { cat "$tmp/err" >&2; [ -n "$hog" ] && kill "$hog"; exit 1; }
  t1=$(date +%s.%N)
  if [ -n "$hog" ]; then
    kill "$hog"
    wait "$hog" 2>/dev/null || true
  fi
  grep -h 'yara:' "$tmp/err" | sed 's/^vigil-sensor: yara: //' >>"$tmp/$label.load" || true
  python3 - "$tmp/out/eve.json" "$(echo "$t1 - $t0" | bc -l)" >>"$tmp/$label" <<'PY'
import json, sys
n = nbytes = 0
st = None
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("event_type") == "fileinfo":
        n += 1
        nbytes += r["fileinfo"]["size"]
    elif r.get("event_type") == "stats":
        st = r["stats"]
f = st["files"]
if f["skipped_scan"]:
    print("bench-files: %d files skipped the scan (queue full)" % f["skipped_scan"], file=sys.stderr)
print(sys.argv[2], st["worker"]["cpu_seconds"], n, nbytes, f["yara_scanned"],
      f["yara_scanned_bytes"], f["yara_scan_seconds"], f["yara_scan_cpu_seconds"])
PY
}

base=""
base_min=""
report() { # label
  python3 - "$tmp/$1" "$1" "$base" "$base_min" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
med = lambda i: statistics.median(r[i] for r in rows)
wall, cpu, n, nb, sc, sb, ss, scpu = (med(i) for i in range(8))
cpus = " ".join("%.3f" % r[1] for r in rows)
diff = ""
if sys.argv[3]:
    b = float(sys.argv[3])
    diff = "%+.1f%%" % (100.0 * (cpu - b) / b)
scan = "-"
if sc > 0 and scpu > 0:
    scan = "%.0f files/s %.1f MB/s per scan CPU s; %.1f MB/s per scan wall s" % (
        sc / scpu, sb / 1e6 / scpu, sb / 1e6 / ss)
lo = min(r[1] for r in rows)
if sys.argv[3]:
    diff += " (min %+.1f%%)" % (100.0 * (lo - float(sys.argv[4])) / float(sys.argv[4]))
print("%-14s %4d files %5.1f MB  wall %5.2f s  worker CPU %.3f s (%s) %s  scan: %s" %
      (sys.argv[2].split("-", 1)[1], n, nb / 1e6, wall, cpu, cpus, diff, scan))
PY
}
min_cpu() { python3 -c 'import sys; print(min(float(l.split()[1]) for l in open(sys.argv[1])))' "$tmp/$1"; }
median_cpu() { python3 -c 'import statistics,sys; print(statistics.median(float(l.split()[1]) for l in open(sys.argv[1])))' "$tmp/$1"; }

sb=../shared/corpus/yara/Neo23x0_signature-base/yara
# no-yara+busy: no YARA, but a busy loop on the other core, as a scanner at full load would be:
# what sharing the machine alone does to the worker's CPU time (caches, memory bandwidth).
configs=("no-yara" "no-yara+busy" "bundled")
[ -d "$sb" ] && configs+=("signature-base")
args_of() {
  case "$1" in
    no-yara|no-yara+busy) ;;
    bundled) echo "--yara-rules rules/yara --set yara.cache-dir=$tmp/cache" ;;
    signature-base) echo "--yara-rules $sb --set yara.cache-dir=$tmp/cache" ;;
  esac
}
npkts=$(python3 -c 'import struct,sys
d=open(sys.argv[1],"rb").read(); o=24; n=0
while o < len(d): o += 16 + struct.unpack_from("<I", d, o + 8)[0]; n += 1
print(n)' "$tmp/files.pcap")
echo "bench-files: $nfiles downloads of $size bytes ($npkts packets), $threads worker(s), median of $reps runs"
# Warm the compiled-rules caches (the cold load time is reported, not counted).
for c in "${configs[@]}"; do
  [[ "$c" == no-yara* ]] && continue
  # shellcheck disable=SC2046
  once "warm-$c" $(args_of "$c")
done
for paced in 0 1; do
  if [ "$paced" = 1 ]; then
    echo "paced at $pps packets/s (steady state):"
  else
    echo "full speed (a burst):"
  fi
  rm -f "$tmp"/p"$paced"-*
  # Interleave the configurations so that load from other jobs spreads over all of them.
  for _ in $(seq "$reps"); do
    for c in "${configs[@]}"; do
      # shellcheck disable=SC2046
      once "p$paced-$c" $(args_of "$c")
    done
  done
  base=""
  base_min=""
  for c in "${configs[@]}"; do
    report "p$paced-$c"
    [ "$c" = no-yara ] && base=$(median_cpu "p$paced-no-yara") && base_min=$(min_cpu "p$paced-no-yara")
  done
done
for c in "${configs[@]}"; do
  [[ "$c" == no-yara* ]] && continue
  echo "$c rule load: cold: $(cat "$tmp/warm-$c.load"); cached: $(cat "$tmp"/p*-"$c".load | paste -sd, | sed 's/[^,]* in \([0-9.]* s\)/\1/g')"
done
