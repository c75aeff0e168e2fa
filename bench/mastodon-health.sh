#!/usr/bin/env bash
# Issue 26's figures: the federation scan's cost per collection on a Redis of BENCH_KEYS
# unrelated keys (default 1,000,000) plus Mastodon's exhausted_deliveries sets of 300 hosts, and
# the time to answer /health/deep. Release build, private PostgreSQL and Redis.
set -euo pipefail
# The benchmark executables are part of the package only with this set (Package.swift).
export MASTIFF_BENCHMARKS=1
cd "$(dirname "$0")/.."
keys=${BENCH_KEYS:-1000000}
build_dir=${BENCH_BUILD_DIR:-}
if [[ -z "$build_dir" ]]; then
  scripts/setup.sh
  swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release --product mastiff >&2
  swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release --product mastodon-health-bench >&2
  build_dir=.build-release/release
fi
services_dir=$(mktemp -d -t mastiff-bench-services.XXXXXX)
trap 'scripts/services.sh stop "$services_dir"' EXIT
scripts/services.sh start "$services_dir" >/dev/null
# shellcheck disable=SC1091
source "$services_dir/env"
redis() { redis-cli -p "$MASTIFF_TEST_REDIS_PORT" "$@" >/dev/null; }
redis -n 12 FLUSHDB
redis -n 13 FLUSHDB
for ((start = 1; start <= keys; start += 100000)); do
  redis -n 12 EVAL "for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do redis.call('SET', 'cache:' .. i, 'x') end" 0 "$start" $((start + 99999 < keys ? start + 99999 : keys))
done
redis -n 12 EVAL "for h = 1, 300 do for d = 1, 1 + h % 8 do redis.call('SADD', 'exhausted_deliveries:host' .. h .. '.example', '202612' .. string.format('%02d', d)) end end" 0
echo "Redis: $keys unrelated keys and 300 failing hosts in db 12; db 13 empty"
"$build_dir/mastodon-health-bench" "redis://127.0.0.1:$MASTIFF_TEST_REDIS_PORT/12" "redis://127.0.0.1:$MASTIFF_TEST_REDIS_PORT/13" "${BENCH_PASSES:-2}"
MASTIFF_RELEASE_BINARY="$build_dir/mastiff" python3 bench/deep_health.py
redis -n 12 FLUSHDB
