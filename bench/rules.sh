#!/usr/bin/env bash
# Issue 9's figures: loading alerts/mastiff.rules.yml, one evaluation cycle of the built-in rules
# on the default collectors' series, and the history those rules keep. Builds release binaries,
# starts PostgreSQL and Redis, takes one exposition with `mastiff collect --once` (system,
# processes, postgres, redis, sidekiq and three probes of a local HTTP server), then replays it
# for BENCH_CYCLES cycles of 15 s (default 1500: more than the rules' longest range, 6 h).
set -euo pipefail
# The benchmark executables are part of the package only with this set (Package.swift).
export MASTIFF_BENCHMARKS=1
cd "$(dirname "$0")/.."
build_dir=${BENCH_BUILD_DIR:-}
# A smoke run (scripts/test.sh) brings its own build and has run setup already.
[[ -z "$build_dir" ]] && scripts/setup.sh
if [[ -z "$build_dir" ]]; then
  swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release --product mastiff
  swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release --product rules-bench
  build_dir=.build-release/release
fi
services_dir=$(mktemp -d -t mastiff-bench-services.XXXXXX)
work=$(mktemp -d -t mastiff-bench-rules.XXXXXX)
cleanup() {
  [[ -n "${http_pid:-}" ]] && kill "$http_pid" 2>/dev/null || true
  scripts/services.sh stop "$services_dir"
}
trap cleanup EXIT
scripts/services.sh start "$services_dir" >/dev/null
# shellcheck disable=SC1091
source "$services_dir/env"
echo OK >"$work/health"
http_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$http_port" --bind 127.0.0.1 --directory "$work" >/dev/null 2>&1 &
http_pid=$!
sleep 1
cat >"$work/mastiff.yml" <<YAML
statsd: {enabled: false}
control_socket: ""
collectors:
  postgres: {dsn: "$MASTIFF_TEST_PG_DSN"}
  redis: {url: "redis://127.0.0.1:$MASTIFF_TEST_REDIS_PORT/0"}
  probes:
    - {name: web, url: "http://127.0.0.1:$http_port/health", body_contains: OK}
    - {name: streaming, url: "http://127.0.0.1:$http_port/health", body_contains: OK}
    - {name: instance_api, url: "http://127.0.0.1:$http_port/health"}
YAML
"$build_dir/mastiff" collect --once --config "$work/mastiff.yml" >"$work/exposition.txt"
"$build_dir/rules-bench" "$work/exposition.txt" "${BENCH_CYCLES:-1500}"
