#!/usr/bin/env bash
# Builds the release binary, installs the peer exporters, starts PostgreSQL and Redis, and runs
# bench/datasources.py (BENCH_STATUSES, BENCH_SCRAPES).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --bench
swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release
services_dir=$(mktemp -d -t mastiff-bench-services.XXXXXX)
trap 'scripts/services.sh stop "$services_dir"' EXIT
scripts/services.sh start "$services_dir"
MASTIFF_BENCH_SERVICES_ENV="$services_dir/env" python3 bench/datasources.py
