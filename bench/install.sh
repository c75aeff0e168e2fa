#!/usr/bin/env bash
# Issue 22's figures (docs/benchmarks.md, "Install and adopt"): the .deb's size, and the time from
# `apt-get install` of it in a fresh Debian 12 through `mastiff init` on the 4.5 fixture
# installation to a collection with every collector succeeding, on the release build.
#   bash bench/install.sh              (BENCH_BUILD_DIR=.build-release/release to reuse a build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BENCH_BUILD_DIR:-}
if [[ -z "$build" ]]; then
  swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release
  build=.build-release/release
fi
services=$(mktemp -d -t mastiff-bench-install.XXXXXX)
trap 'scripts/services.sh stop "$services" >/dev/null 2>&1 || true' EXIT
scripts/services.sh start "$services" 2>/dev/null
# shellcheck disable=SC1091
source "$services/env"
started=$(date +%s.%N)
bash scripts/package-test.sh "$build/mastiff" 2>&1 | grep -E '^package-test: (mastiff_|from apt-get|ok|FAILED)'
echo "bench: whole package test $(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$started" "$(date +%s.%N)") s"
