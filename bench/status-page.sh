#!/usr/bin/env bash
# Issue 13's status page figures: render time (report + HTML) after a day of history, and the
# memory that history takes (bench/StatusPageBench, release build).
set -euo pipefail
# The benchmark executables are part of the package only with this set (Package.swift).
export MASTIFF_BENCHMARKS=1
cd "$(dirname "$0")/.."
build_dir=${BENCH_BUILD_DIR:-}
if [[ -z "$build_dir" ]]; then
  swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release --product status-page-bench >&2
  build_dir=.build-release/release
fi
"$build_dir/status-page-bench"
