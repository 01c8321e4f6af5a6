#!/usr/bin/env bash
# bench-triage.sh: vigil-triage ingest (alerts/s into SQLite) and correlation time for N alerts.
#
# Usage: bench/bench-triage.sh [N]   (default 1000000). Builds Release in build-bench-triage.
# Prints alerts/s for ingest, correlation seconds, and peak RSS of each phase (/usr/bin/time -v).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
build=build-bench-triage
work=$(mktemp -d /tmp/vigil-bench-triage.XXXXXX)
trap 'rm -rf "$work"' EXIT

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DVIGIL_TESTS=OFF >/dev/null
cmake --build "$build" --target vigil-triage -j2 >/dev/null
cc -O2 -std=c11 -D_DEFAULT_SOURCE -o "$work/gen" bench/gen-eve-alerts.c
"$work/gen" "$n" > "$work/alerts.json"
size=$(stat -c %s "$work/alerts.json")
echo "input: $n alert lines, $((size / 1048576)) MiB"

run() { # phase, then the command; prints the tool's summary, wall seconds and peak RSS
  local phase=$1; shift
  /usr/bin/time -v "$@" > "$work/$phase.out" 2> "$work/$phase.time"
  cat "$work/$phase.out"
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$work/$phase.time")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/$phase.time")
  cpu=$(awk -F': ' '/User time|System time/ {s+=$2} END {print s}' "$work/$phase.time")
  echo "$phase: ${wall}s wall, ${cpu}s CPU (user+sys), peak RSS $((rss / 1024)) MiB"
}

db="$work/bench.db"
run ingest "$build/vigil-triage" --db "$db" --config rules/triage.yaml ingest "$work/alerts.json" --no-correlate
awk -v n="$n" -v w="$wall" 'BEGIN {printf "ingest: %.0f alerts/s (wall)\n", n / w}'
run correlate "$build/vigil-triage" --db "$db" --config rules/triage.yaml correlate
echo "correlate: $n alerts in ${wall}s"
run reingest "$build/vigil-triage" --db "$db" --config rules/triage.yaml ingest "$work/alerts.json"
echo "load average during the run: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
echo "database: $(( $(stat -c %s "$db") / 1048576 )) MiB; incidents: $(sqlite3 "$db" 'SELECT COUNT(*) FROM incidents' 2>/dev/null || echo '?')"
