#!/usr/bin/env bash
# statsd bridge figures (issue 4): builds the release binary and the pipeline benchmark, then
# runs bench/statsd.py (see its docstring; BENCH_ROUNDS, BENCH_SECONDS, BENCH_RATE).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --bench
swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release --product mastiff
swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release --product statsd-pipeline-bench
python3 bench/statsd.py
