#!/usr/bin/env bash
# bench-redis.sh: EVE through one Redis stream: records/s, XADD-to-reader latency p50/p99, and sensor throughput with and without Redis;
# then sensor -> stream -> vigil-triage -> SQLite: XADD-to-commit latency, records/s into the store.
#
# Usage: bench/bench-redis.sh [--threads N] [--reps N] [--no-triage] [PCAP ...]
# With no inputs, every capture under ../shared/corpus/pcaps except malformed/ is used, or the
# generated many-flows.pcap when the shared corpus is absent; the list is repeated --reps times
# (default 3). A private redis-server runs on a free loopback port with a temporary directory.
# VIGIL_BENCH_BUILD names the build directory (default build-bench, built Release).
# The triage part (skipped with --no-triage): a sensor reads attack-chain.pcap replayed through a
# FIFO at 2,000 and 20,000 packets/s (bench-pace-pcap) while a consumer follows the stream: the
# latency from each entry's XADD to the commit that holds it. Then the first part's full stream
# is drained into fresh databases: one consumer with and without correlation and with a smaller
# --count, and two consumers of one group sharing one database.
set -euo pipefail
cd "$(dirname "$0")/.."

threads=1
reps=3
no_triage=0
inputs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --no-triage) no_triage=1; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) inputs+=("$1"); shift ;;
  esac
done
command -v redis-server >/dev/null || { echo "bench-redis: redis-server is not installed" >&2; exit 1; }

build=${VIGIL_BENCH_BUILD:-build-bench}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DVIGIL_TESTS=OFF >/dev/null
fi
cmake --build "$build" -j"$(nproc)" --target vigil-sensor vigil-triage bench-redis-reader bench-pace-pcap pcaps >/dev/null
sensor=$build/vigil-sensor
triage=$build/vigil-triage
reader=$build/bench-redis-reader
pacer=$build/bench-pace-pcap

if [ ${#inputs[@]} -eq 0 ]; then
  if [ -d ../shared/corpus/pcaps ]; then
    mapfile -t inputs < <(find ../shared/corpus/pcaps -type f \( -name '*.pcap' -o -name '*.pcapng' \) \
                            -not -path '*/malformed/*' | sort)
  else
    inputs=("$build/pcaps/many-flows.pcap")
  fi
fi
args=()
for ((i = 0; i < reps; i++)); do for f in "${inputs[@]}"; do args+=(-r "$f"); done; done

tmp=$(mktemp -d /tmp/vigil-bench-redis-XXXXXX)
redis_pid=
bg_pids=()
cleanup() {
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir "$tmp/redis"
redis-server --port "$port" --bind 127.0.0.1 --dir "$tmp/redis" --save '' --appendonly no \
  --daemonize no >"$tmp/redis/log" 2>&1 &
redis_pid=$!
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done

# Runs the sensor; prints "packets secs pps events".
run() {
  local out=$1; shift
  "$sensor" "${args[@]}" -l "$out" --threads "$threads" --no-progress "$@" >"$out.log" 2>&1 ||
    { cat "$out.log" >&2; exit 1; }
  grep -E '^vigil-sensor: [0-9]+ packets' "$out.log" |
    sed -E 's/.*: ([0-9]+) packets .* in ([0-9.]+) s: ([0-9]+) pkt\/s.*; ([0-9]+) events written.*/\1 \2 \3 \4/'
}

read -r pk0 s0 pps0 ev0 < <(run "$tmp/plain")
# The reader follows the stream while the sensor fills it; it stops 3 s after the last entry.
"$reader" 127.0.0.1 "$port" vigil:bench 3000 >"$tmp/reader.out" &
reader_pid=$!
read -r pk1 s1 pps1 ev1 < <(run "$tmp/redis" --eve-redis "redis://127.0.0.1:$port/0?stream=vigil:bench&maxlen=0" \
                               --set outputs.eve.redis.drain-timeout=600000)
wait "$reader_pid"
read -r n first last rate p50 p99 max <"$tmp/reader.out"
summary=$(grep 'eve-redis: .* records sent' "$tmp/redis.log" | sed 's/^vigil-sensor: //')
xlen=$(redis-cli -p "$port" xlen vigil:bench)
mem=$(redis-cli -p "$port" info memory | grep '^used_memory_human' | cut -d: -f2 | tr -d '\r')

echo "bench-redis: $(nproc) cores, $threads worker thread(s), ${#args[@]} capture reads ($pk0 packets)"
echo "  without Redis: $s0 s, $pps0 pkt/s, $ev0 records"
echo "  with Redis:    $s1 s, $pps1 pkt/s, $ev1 records (sensor wall time includes draining)"
echo "  stream: $xlen entries, Redis memory $mem; $summary"
echo "  records/s through the stream (first to last XADD): $rate"
echo "  XADD to reader latency: p50 $p50 ms, p99 $p99 ms, max $max ms ($n records read)"

[ "$no_triage" = 1 ] && exit 0

# ---- sensor -> stream -> vigil-triage -> SQLite ----
rcli() { redis-cli -p "$port" "$@"; }
# Waits until group $2 of stream $1 has delivered and acknowledged every entry.
drained() {
  for _ in $(seq 6000); do
    local lag pend
    lag=$(rcli xinfo groups "$1" | awk -v g="$2" '$0 == "name" {getline; n = $0} $0 == "lag" && n == g {getline; print}')
    pend=$(rcli xpending "$1" "$2" | head -1)
    [ "$lag" = 0 ] && [ "$pend" = 0 ] && return 0
    sleep 0.05
  done
  echo "bench-redis: group $2 of $1 did not drain" >&2; exit 1
}
summary_of() { grep -E '^(records|stream) ' "$1" | sed 's/^stream [^:]*: //' | tr '\n' ' '; }

# Live: a sensor reads attack-chain.pcap (with rules/vigil.rules) replayed at a steady packet
# rate through a FIFO; a consumer follows the stream. Latency: entry id (XADD) to commit.
live() { # pps seconds; prints "pps records/s alerts p50 p99 max sensor-summary"
  local pps=$1 secs=$2 s=vigil:live$1
  local url="redis://127.0.0.1:$port/0?stream=$s"
  rm -f "$tmp/pace.pcap" "$tmp/lat.txt"; mkfifo "$tmp/pace.pcap"
  VIGIL_TRIAGE_BENCH_LATENCY=$tmp/lat.txt "$triage" --db "$tmp/live$pps.db" ingest --redis "$url" \
    --consumer live --block 100 >"$tmp/live$pps.out" 2>"$tmp/live$pps.err" &
  local cons=$!; bg_pids+=($cons)
  mkdir -p "$tmp/live$pps"
  "$sensor" -r "$tmp/pace.pcap" -S rules/vigil.rules --set detect.cache-dir=none -l "$tmp/live$pps" \
    --no-progress --eve-redis "$url&maxlen=0" >"$tmp/live$pps.sensor" 2>&1 &
  local sens=$!; bg_pids+=($sens)
  "$pacer" "$build/pcaps/attack-chain.pcap" "$tmp/pace.pcap" "$pps" "$secs" >/dev/null
  wait "$sens"
  drained "$s" triage
  kill -TERM "$cons"; wait "$cons"
  python3 - "$tmp/lat.txt" "$pps" "$secs" "$(rcli xlen "$s")" \
    "$(sqlite3 "$tmp/live$pps.db" "SELECT COUNT(*) FROM events WHERE event_type='alert'")" <<'PY'
import sys
lat = sorted(int(us) / 1000.0 - int(i.split("-")[0]) for i, us in (l.split() for l in open(sys.argv[1])))
n = len(lat)
print(sys.argv[2], "%.0f" % (int(sys.argv[4]) / float(sys.argv[3])), sys.argv[5],
      "%.1f" % lat[n // 2], "%.1f" % lat[int(n * 0.99)], "%.1f" % lat[-1])
PY
}
live_lo=$(live 2000 10)
live_hi=$(live 20000 10)

# Drain: the full vigil:bench stream (the first part's records) into fresh databases.
url="redis://127.0.0.1:$port/0?stream=vigil:bench"
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}'; }
drain() { # name, then consumer arguments; prints wall seconds
  local t0; t0=$(date +%s.%N)
  "$triage" --db "$tmp/$1.db" ingest --redis "$url" --once "${@:2}" >"$tmp/$1.out" 2>"$tmp/$1.err" ||
    { cat "$tmp/$1.err" >&2; exit 1; }
  elapsed "$t0"
}
w_corr=$(drain drain --group drain --consumer d1)
w_nocorr=$(drain drain-nc --group drain-nc --consumer d1 --no-correlate)
w_small=$(drain drain-1000 --group drain-1000 --consumer d1 --count 1000)
t0=$(date +%s.%N)
"$triage" --db "$tmp/two.db" ingest --redis "$url" --once --group two --consumer t1 >"$tmp/two1.out" 2>&1 &
p1=$!; bg_pids+=($p1)
"$triage" --db "$tmp/two.db" ingest --redis "$url" --once --group two --consumer t2 >"$tmp/two2.out" 2>&1 &
p2=$!; bg_pids+=($p2)
wait "$p1" "$p2"
w_two=$(elapsed "$t0")
entries=$(rcli xlen vigil:bench)
rate() { awk -v n="$entries" -v w="$1" 'BEGIN {printf "%.0f", n / w}'; }
e1=$(grep -o 'entries [0-9]*' "$tmp/two1.out" | cut -d' ' -f2); e2=$(grep -o 'entries [0-9]*' "$tmp/two2.out" | cut -d' ' -f2)

for l in "$live_lo" "$live_hi"; do
  read -r pps rps al p50 p99 mx <<<"$l"
  echo "  live, $pps pkt/s of attack-chain.pcap with rules ($rps records/s, $al alerts stored): XADD to commit p50 $p50 ms, p99 $p99 ms, max $mx ms"
done
echo "  drain $entries entries (default --count), one consumer, correlating: $w_corr s, $(rate "$w_corr") records/s"
echo "    $(summary_of "$tmp/drain.out")"
echo "  drain, one consumer, --no-correlate: $w_nocorr s, $(rate "$w_nocorr") records/s"
echo "  drain, one consumer, --count 1000: $w_small s, $(rate "$w_small") records/s"
echo "  drain, two consumers of one group, one database: $w_two s, $(rate "$w_two") records/s ($e1 + $e2 entries)"
