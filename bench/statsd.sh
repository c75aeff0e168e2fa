#!/usr/bin/env bash
# statsd bridge figures (issue 4): builds the release binary and the pipeline benchmark, then
# runs bench/statsd.py (see its docstring; BENCH_ROUNDS, BENCH_SECONDS, BENCH_RATE).
set -euo pipefail
# The benchmark executables are part of the package only with this set (Package.swift).
export MASTIFF_BENCHMARKS=1
cd "$(dirname "$0")/.."
scripts/setup.sh --bench
swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release --product mastiff
swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release --product statsd-pipeline-bench
python3 bench/statsd.py
