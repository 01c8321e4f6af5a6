#!/usr/bin/env bash
# bench-redis.sh: EVE through one Redis stream: records/s, XADD-to-reader latency p50/p99, and sensor throughput with and without Redis.
#
# Usage: bench/bench-redis.sh [--threads N] [--reps N] [PCAP ...]
# With no inputs, every capture under ../shared/corpus/pcaps except malformed/ is used, or the
# generated many-flows.pcap when the shared corpus is absent; the list is repeated --reps times
# (default 3). A private redis-server runs on a free loopback port with a temporary directory.
# VIGIL_BENCH_BUILD names the build directory (default build-bench, built Release).
set -euo pipefail
cd "$(dirname "$0")/.."

threads=1
reps=3
inputs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) inputs+=("$1"); shift ;;
  esac
done
command -v redis-server >/dev/null || { echo "bench-redis: redis-server is not installed" >&2; exit 1; }

build=${VIGIL_BENCH_BUILD:-build-bench}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DVIGIL_TESTS=OFF >/dev/null
fi
cmake --build "$build" -j"$(nproc)" --target vigil-sensor bench-redis-reader pcaps >/dev/null
sensor=$build/vigil-sensor
reader=$build/bench-redis-reader

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
cleanup() {
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
