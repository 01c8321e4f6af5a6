#!/usr/bin/env bash
# flood.sh: the memcap flood (1M SYNs from random sources + 200k fragments) through the sensor
# with small memcaps: peak RSS against the memcaps, packets/s, and the evictions counted.
# Usage: bench/flood.sh [BUILD_DIR (build)] [SYNS] [FRAGMENTS] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
syns=${2:-1000000}
frags=${3:-200000}
threads=${4:-2}
cmake --build "$build" --target vigil-sensor vigil-floodgen >/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/vigil-flood-XXXXXX")
trap 'rm -rf "$work"' EXIT
"$build/vigil-floodgen" "$work/flood.pcap" "$syns" "$frags"
caps=(--set flow.memcap=16mb --set defrag.memcap=4mb --set stream.memcap=8mb --set files.memcap=4mb)
/usr/bin/time -f '%M' -o "$work/rss" "$build/vigil-sensor" -r "$work/flood.pcap" -l "$work" \
  --threads "$threads" --no-progress --set outputs.eve.types.flow=no "${caps[@]}" 2>"$work/err"
tail -n 1 "$work/err"
total_mb=$((16 + 4 + 8 * threads + 4))
python3 - "$work/eve.json" "$(cat "$work/rss")" "$total_mb" <<'PY'
import json, sys
stats = None
for line in open(sys.argv[1]):
    rec = json.loads(line)
    if rec.get("event_type") == "stats":
        stats = rec["stats"]
rss_mb = int(sys.argv[2]) / 1024
print(f"peak RSS {rss_mb:.1f} MB; memcaps {sys.argv[3]} MB (flow 16, defrag 4, stream 8/thread, files 4)")
print(f"packets decoded {stats['decoder']['pkts']}; flow.memcap_evictions {stats['flow']['memcap_evictions']}; "
      f"flow.memuse {stats['flow']['memuse']}; defrag.evictions {stats['defrag']['evictions']}; "
      f"defrag.memuse {stats['defrag']['memuse']}")
PY
