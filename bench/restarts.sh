#!/usr/bin/env bash
# Issue 11's first figure: one restart-policy cycle over 500 processes (release build).
set -euo pipefail
# The benchmark executables are part of the package only with this set (Package.swift).
export MASTIFF_BENCHMARKS=1
cd "$(dirname "$0")/.."
build_dir=${BENCH_BUILD_DIR:-}
if [[ -z "$build_dir" ]]; then
  swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release --product restart-bench
  build_dir=.build-release/release
fi
"$build_dir/restart-bench" "${BENCH_CYCLES:-2000}"
