#!/usr/bin/env bash
# Runs mastiff's main job on a fresh machine: installs dependencies, builds a release binary and
# runs `mastiff run` on the embedded defaults (system and process collectors, /metrics on
# 127.0.0.1:9815). Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release
echo "demo: mastiff is starting; try:  curl -s http://127.0.0.1:9815/metrics | head" >&2
echo "demo:                          curl -s http://127.0.0.1:9815/metrics | promtool check metrics" >&2
exec .build-release/release/mastiff run "$@"
