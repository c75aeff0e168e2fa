#!/usr/bin/env bash
# Regenerates Sources/mastiff/symbol-order.txt, the order in which the release link lays out
# functions (lld's --symbol-ordering-file; docs/adr/0025-link-the-code-a-run-touches-together.md).
#
# Every function the agent executes in a run is listed, hottest first, so that they share as
# few pages as possible: code is what mastiff's resident memory is mostly made of, and a page
# of it is resident as soon as one function on it runs. The profile is valgrind's callgrind over
# two agents for BENCH_SECONDS (default 60) each — one on the embedded defaults, one with every
# collector against real PostgreSQL and Redis, sampling every second — while /metrics, the status
# page and the status API are requested and statsd lines arrive. Run it after changes that move
# much code; a stale file costs only memory, never correctness (unknown names are ignored).
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
sleep 15
for _ in $(seq "$seconds"); do
  for p in "$defaults_port" "$full_port"; do
    for path in /metrics / /api/v1/status; do curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$p$path" || true; done
  done
  printf 'mastodon.web.GET.requests:1|c\nmastodon.sidekiq.queues.default.enqueued:3|g\n' >"/dev/udp/127.0.0.1/$statsd_port" || true
  sleep 1
done
wait
for name in defaults full; do
  [[ -s "$work/$name.callgrind" ]] || { echo "symbol-order: no profile from the $name agent:" >&2; tail -20 "$work/$name.log" >&2; exit 1; }
done
for name in defaults full; do callgrind_annotate --threshold=100 "$work/$name.callgrind"; done | python3 -c '
import collections, re, sys
executed = collections.Counter()
for line in sys.stdin:
    # "  1,234 ( 0.5%)  ???:SYMBOL [/path/to/mastiff]": functions of the binary itself.
    match = re.match(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+\S*?:(\S+) \[(\S+)\]$", line.rstrip())
    if match and match.group(3).endswith("/mastiff"):
        executed[match.group(2)] += int(match.group(1).replace(",", ""))
for name, _ in executed.most_common():
    print(name)
' >Sources/mastiff/symbol-order.txt
echo "symbol-order: $(wc -l <Sources/mastiff/symbol-order.txt) functions in Sources/mastiff/symbol-order.txt" >&2
# SwiftPM does not track the ordering file: make the next release build link again.
rm -f .build-release/release/mastiff
