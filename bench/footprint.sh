#!/usr/bin/env bash
# Builds the release binary (static Swift runtime), installs the peer exporters, starts real
# PostgreSQL and Redis so their process groups have members, and runs bench/footprint.py.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --bench
swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release
services_dir=$(mktemp -d -t mastiff-bench-services.XXXXXX)
trap 'scripts/services.sh stop "$services_dir"' EXIT
scripts/services.sh start "$services_dir"
python3 bench/footprint.py
