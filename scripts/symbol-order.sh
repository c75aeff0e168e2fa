#!/usr/bin/env bash
# Regenerates Sources/mastiff/symbol-order.txt, the order in which the release link lays out
# functions (lld's --symbol-ordering-file; docs/adr/0025-link-the-code-a-run-touches-together.md).
#
# Every function the agent executes in a run is listed, hottest first, so that they share as
# few pages as possible: code is what mastiff's resident memory is mostly made of, and a page
# of it is resident as soon as one function on it runs. The profile is valgrind's callgrind over
# two agents for BENCH_SECONDS (default 60) each — one on the embedded defaults, one with every
# collector against real PostgreSQL and Redis, sampling every second — while /metrics, the status
# page and the status API are requested and statsd lines arrive. A third profile is
# `mastiff backup run` (an age-encrypted PostgreSQL backup of a 15 MB table into moto, in
# 5 MiB parts); the functions only it runs come after the agents', so an agent that never backs
# up touches no more pages than before. Run it after changes that move much code; a stale file
# costs only memory, never correctness (unknown names are ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${BENCH_SECONDS:-60}
scripts/setup.sh --bench
swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release --product mastiff
work=$(mktemp -d -t mastiff-symbol-order.XXXXXX)
services_dir=$(mktemp -d -t mastiff-symbol-order-services.XXXXXX)
trap 'scripts/services.sh stop "$services_dir"; rm -rf "$work"' EXIT
scripts/services.sh start "$services_dir"
# shellcheck source=/dev/null
source "$services_dir/env"
# valgrind 3.19 cannot read the DWARF 5 the toolchain writes; the symbol table is what counts.
objcopy --strip-debug .build-release/release/mastiff "$work/mastiff"

port() { python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"; }
defaults_port=$(port) full_port=$(port) statsd_port=$(port)
cat >"$work/defaults.yml" <<YAML
listen: 127.0.0.1:$defaults_port
state_dir: $work/defaults-state
control_socket: $work/defaults.sock
statsd: {udp: 127.0.0.1:0}
YAML
cat >"$work/full.yml" <<YAML
listen: 127.0.0.1:$full_port
state_dir: $work/full-state
control_socket: $work/full.sock
sampling: {interval: 1s}
statsd: {udp: 127.0.0.1:$statsd_port}
collectors:
  postgres: {dsn: "$MASTIFF_TEST_PG_DSN"}
  redis: {url: "redis://127.0.0.1:$MASTIFF_TEST_REDIS_PORT/0"}
YAML
for name in defaults full; do
  timeout -s TERM "$((seconds + 20))" valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/$name.callgrind" \
    "$work/mastiff" run --config "$work/$name.yml" >"$work/$name.log" 2>&1 &
done
# The backup, one at a time beside the agents: moto and pg_dump are not under valgrind.
psql=("$MASTIFF_TEST_PG_BIN/psql" -h "$MASTIFF_TEST_PG_SOCKET_DIR" -p "$MASTIFF_TEST_PG_PORT" -U postgres -qAt)
"${psql[@]}" -d postgres -c "CREATE DATABASE symbol_order"
"${psql[@]}" -d symbol_order -c "CREATE TABLE statuses AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS text FROM generate_series(1, 150000) g"
age-keygen -o "$work/age.key" 2>/dev/null
cat >"$work/backup.yml" <<YAML
listen: 127.0.0.1:0
state_dir: $work/backup-state
control_socket: ""
statsd: {enabled: false}
backups:
  enabled: true
  storage: {endpoint: "$MASTIFF_TEST_S3_ENDPOINT", bucket: $MASTIFF_TEST_S3_BUCKET, prefix: symbol-order/,
            access_key_id: $MASTIFF_TEST_S3_ACCESS_KEY, secret_access_key: "$MASTIFF_TEST_S3_SECRET_KEY"}
  encryption: {recipients: [$(age-keygen -y "$work/age.key")]}
  postgres: {dsn: "host=$MASTIFF_TEST_PG_SOCKET_DIR port=$MASTIFF_TEST_PG_PORT user=postgres dbname=symbol_order"}
YAML
valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/backup.callgrind" \
  "$work/mastiff" backup run --standalone --config "$work/backup.yml" >"$work/backup.log" 2>&1 &
sleep 15
for _ in $(seq "$seconds"); do
  for p in "$defaults_port" "$full_port"; do
    for path in /metrics / /api/v1/status; do curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$p$path" || true; done
  done
  printf 'mastodon.web.GET.requests:1|c\nmastodon.sidekiq.queues.default.enqueued:3|g\n' >"/dev/udp/127.0.0.1/$statsd_port" || true
  sleep 1
done
wait
for name in defaults full backup; do
  [[ -s "$work/$name.callgrind" ]] || { echo "symbol-order: no profile from the $name agent:" >&2; tail -20 "$work/$name.log" >&2; exit 1; }
done
grep -q "^done: " "$work/backup.log" || { echo "symbol-order: the profiled backup failed:" >&2; tail -20 "$work/backup.log" >&2; exit 1; }
python3 - "$work" >Sources/mastiff/symbol-order.txt <<'PY'
import collections, re, subprocess, sys
work = sys.argv[1]

def executed(*profiles):
    counts = collections.Counter()
    for profile in profiles:
        report = subprocess.run(["callgrind_annotate", "--threshold=100", f"{work}/{profile}.callgrind"],
                                capture_output=True, text=True, check=True).stdout
        for line in report.splitlines():
            # "  1,234 ( 0.5%)  ???:SYMBOL [/path/to/mastiff]": functions of the binary itself.
            match = re.match(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+\S*?:(\S+) \[(\S+)\]$", line.rstrip())
            if match and match.group(3).endswith("/mastiff"):
                counts[match.group(2)] += int(match.group(1).replace(",", ""))
    return [name for name, _ in counts.most_common()]

agents = executed("defaults", "full")
seen = set(agents)
for name in agents + [name for name in executed("backup") if name not in seen]:
    print(name)
PY
echo "symbol-order: $(wc -l <Sources/mastiff/symbol-order.txt) functions in Sources/mastiff/symbol-order.txt" >&2
# SwiftPM does not track the ordering file: make the next release build link again.
rm -f .build-release/release/mastiff
