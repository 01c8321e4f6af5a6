#!/usr/bin/env bash
# bench.sh: vigil-sensor throughput (packets/s, Mbit/s per core), peak RSS and rule-load time.
#
# Usage: bench/bench.sh [--rules PATH] [--min-mb N] [--threads N] [--mode MODES] [--reps N] [PCAP|DIR ...]
#   MODES is a comma list of: decode (decode+flow only, no output), app (decode+flow plus TCP
#   reassembly and the app-layer parsers, no output), rules (everything, with --rules loaded,
#   cold cache then warm), enrich (--rules with alerts and EVE on, without and with GeoIP/ASN
#   from MaxMind's test databases in ../shared/corpus/maxmind plus rules/assets.sample.yaml, and
#   with enrich.all-events: the packet workers' CPU seconds, median of --reps runs, and the %
#   difference), all (default: decode,app,rules).
# With no inputs, every capture under ../shared/corpus/pcaps except malformed/ is used,
# repeated until at least --min-mb megabytes (default 200).
set -euo pipefail
cd "$(dirname "$0")/.."

rules=../shared/corpus/rules/et-open-2024-04_jarelllama/rules
min_mb=200
threads=1
nreps=3
modes=decode,app,rules
inputs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rules) rules=$2; shift 2 ;;
    --min-mb) min_mb=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --mode) modes=$2; shift 2 ;;
    --reps) nreps=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) inputs+=("$1"); shift ;;
  esac
done
[ "$modes" = all ] && modes=decode,app,rules

build=${VIGIL_BENCH_BUILD:-build-bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DVIGIL_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target vigil-sensor >/dev/null
sensor=$build/vigil-sensor

if [ ${#inputs[@]} -eq 0 ]; then
  [ -d ../shared/corpus/pcaps ] || { echo "bench: no inputs and no ../shared corpus" >&2; exit 1; }
  mapfile -t files < <(find ../shared/corpus/pcaps -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) \
                         -not -path '*/malformed/*' | sort)
  one=$(du -cb "${files[@]}" | tail -1 | cut -f1)
  reps=$(( (min_mb * 1000000 + one - 1) / one ))
  for ((i = 0; i < reps; i++)); do inputs+=("${files[@]}"); done
  echo "bench: ${#files[@]} shared captures ($((one / 1000000)) MB) x $reps" >&2
fi
args=()
for f in "${inputs[@]}"; do args+=(-r "$f"); done

out=$(mktemp -d /tmp/vigil-bench-XXXXXX)
trap 'rm -rf "$out"' EXIT
mkdir -p bench/results
report=bench/results/$(date +%Y%m%d-%H%M%S).md

# Runs the sensor; prints "pkts MB secs pps mbps rss_mb cpu_secs worker_cpu_secs" (the process's
# CPU, then the packet workers' own: "worker CPU N s" of its summary, left in $out/run.log).
run() {
  local log=$out/run.log
  /usr/bin/time -f "CPU %U %S" "$sensor" "${args[@]}" -l "$out/logs" --threads "$threads" \
      --no-progress "$@" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
  local line cpu
  line=$(grep -E '^vigil-sensor: [0-9]+ packets' "$log")
  cpu=$(grep '^CPU ' "$log" | awk '{print $2 + $3}')
  echo "$line" | sed -E 's/.*: ([0-9]+) packets \(([0-9.]+) MB\) in ([0-9.]+) s: ([0-9]+) pkt\/s, ([0-9.]+) Mbit\/s, peak RSS ([0-9.]+) MB.*/\1 \2 \3 \4 \5 \6/' | tr '\n' ' '
  echo "$cpu $(echo "$line" | grep -oE 'worker CPU [0-9.]+ s' | grep -oE '[0-9.]+' || echo 0)"
  grep -E 'rules: ' "$log" >&2 || true
}

{
  echo "# vigil-sensor benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); worker threads: $threads"
  echo "Input: ${#inputs[@]} capture files"
  echo
  echo "| run | packets | MB | wall s | pkt/s | Mbit/s | CPU s | pkt/s per CPU s | Mbit/s per CPU s | worker CPU s | Mbit/s per worker CPU s | peak RSS MB | rule load |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} | tee "$report"

row() { # name, load, then run()'s fields
  local name=$1 load=$2 p mb s pps mbps rss cpu wcpu
  read -r p mb s pps mbps rss cpu wcpu <<<"$3"
  awk -v n="$name" -v p="$p" -v mb="$mb" -v s="$s" -v pps="$pps" -v mbps="$mbps" -v rss="$rss" \
      -v cpu="$cpu" -v wcpu="$wcpu" -v load="$load" 'BEGIN {
        printf "| %s | %d | %.1f | %.2f | %d | %.1f | %.2f | %d | %.1f | %.3f | %.1f | %.1f | %s |\n",
          n, p, mb, s, pps, mbps, cpu, (cpu > 0 ? p / cpu : 0), (cpu > 0 ? mb * 8 / cpu : 0),
          wcpu, (wcpu > 0 ? mb * 8 / wcpu : 0), rss, load }' | tee -a "$report"
}

if [[ ",$modes," == *,decode,* ]]; then
  r=$(run --set outputs.eve.enabled=no --set app-layer.enabled=no 2>/dev/null)
  row "decode+flow" "-" "$r"
fi
if [[ ",$modes," == *,app,* ]]; then
  r=$(run --set outputs.eve.enabled=no 2>/dev/null)
  row "decode+flow+app-layer" "-" "$r"
fi
if [[ ",$modes," == *,rules,* ]]; then
  [ -e "$rules" ] || { echo "bench: rules $rules not found" >&2; exit 1; }
  if [ -d "$rules" ]; then mapfile -t rf < <(ls "$rules"/*.rules); else rf=("$rules"); fi
  rargs=()
  for f in "${rf[@]}"; do rargs+=(-S "$f"); done
  cache=$out/cache
  for pass in cold warm; do
    r=$(run "${rargs[@]}" --set "detect.cache-dir=$cache" 2>"$out/load.txt")
    load=$(grep -oE 'parsed in [0-9.]+ s, databases [a-z ]+ in [0-9.]+ s' "$out/load.txt" | tail -1)
    row "rules ($pass cache)" "$load" "$r"
  done
  grep -E 'rules: ' "$out/load.txt" | tail -1 | tee -a "$report"
fi
if [[ ",$modes," == *,enrich,* ]]; then
  [ -e "$rules" ] || { echo "bench: rules $rules not found" >&2; exit 1; }
  geo=../shared/corpus/maxmind/MaxMind-DB/test-data
  [ -d "$geo" ] || { echo "bench: $geo not found (enrich mode)" >&2; exit 1; }
  if [ -d "$rules" ]; then mapfile -t rf < <(ls "$rules"/*.rules); else rf=("$rules"); fi
  rargs=(--set "detect.cache-dir=$out/cache")
  for f in "${rf[@]}"; do rargs+=(-S "$f"); done
  eargs=(--geoip-db "$geo/GeoIP2-City-Test.mmdb" --geoip-db "$geo/GeoLite2-ASN-Test.mmdb"
         --set enrich.assets=rules/assets.sample.yaml)
  run "${rargs[@]}" >/dev/null 2>&1 # warms the rules cache
  for ((i = 0; i < nreps; i++)); do # interleaved, so load from other jobs spreads over all three
    for c in off on all; do
      case $c in
        off) a=() ;;
        on) a=("${eargs[@]}") ;;
        all) a=("${eargs[@]}" --set enrich.all-events=yes) ;;
      esac
      run "${rargs[@]}" "${a[@]}" >/dev/null 2>&1
      wcpu=$(grep -oE 'worker CPU [0-9.]+ s' "$out/run.log" | grep -oE '[0-9.]+')
      look=$(grep '"event_type":"stats"' "$out/logs/eve.json" | tail -1 |
             python3 -c 'import json,sys; s=json.loads(sys.stdin.read())["stats"]; e=s.get("enrich",{})
print(s["detect"]["alert"], e.get("lookups",0), e.get("cache_hits",0), s["eve"]["records"])')
      echo "$wcpu $look" >>"$out/enrich-$c"
    done
  done
  {
    echo
    echo "Enrichment (rules: $rules; workers' CPU seconds, median of $nreps runs):"
    echo
    echo "| run | worker CPU s, median (each run) | vs off: median (min) | alerts | EVE records | look-ups | cache hits |"
    echo "|---|---|---|---|---|---|---|"
  } | tee -a "$report"
  python3 - "$out" <<'PY' | tee -a "$report"
import statistics, sys
base = lo0 = None
names = {"off": "enrichment off", "on": "GeoIP+ASN+assets, alerts", "all": "GeoIP+ASN+assets, all-events"}
for c in ("off", "on", "all"):
    rows = [l.split() for l in open("%s/enrich-%s" % (sys.argv[1], c))]
    cpu = statistics.median(float(r[0]) for r in rows)
    lo = min(float(r[0]) for r in rows)
    if base is None:
        base, lo0 = cpu, lo
    a, lk, hits, recs = rows[-1][1:5]
    print("| %s | %.3f (%s) | %+.1f%% (min %+.1f%%) | %s | %s | %s | %s |" % (names[c], cpu,
          " ".join(r[0] for r in rows), 100 * (cpu - base) / base, 100 * (lo - lo0) / lo0,
          a, recs, lk, hits))
PY
fi
echo "bench: report written to $report" >&2
