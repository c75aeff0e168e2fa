#!/usr/bin/env bash
# Issue 10's figures: firing -> webhook latency (group_wait 0s and 2s) and 10,000 queued
# notifications in the state file (size, reload time). Builds release binaries (BENCH_BUILD_DIR
# to use another build), then runs bench/notifications.py (BENCH_ROUNDS, default 5).
set -euo pipefail
# The benchmark executables are part of the package only with this set (Package.swift).
export MASTIFF_BENCHMARKS=1
cd "$(dirname "$0")/.."
if [[ -z "${BENCH_BUILD_DIR:-}" ]]; then
  scripts/setup.sh
  swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release --product mastiff
  swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release --product notify-bench
fi
python3 bench/notifications.py
