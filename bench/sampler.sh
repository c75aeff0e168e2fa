#!/usr/bin/env bash
# Builds the release binary and, in a scratch worktree, the release binary of the commit before
# the sampler (BASELINE_COMMIT), starts PostgreSQL and Redis, and runs bench/sampler.py.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
baseline_commit=${BASELINE_COMMIT:-d07bcc7}
swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release
# shellcheck source=bench/baseline.sh
source bench/baseline.sh
baseline=$(baseline_binary "$baseline_commit")
services_dir=$(mktemp -d -t mastiff-bench-services.XXXXXX)
trap 'scripts/services.sh stop "$services_dir"' EXIT
scripts/services.sh start "$services_dir"
# shellcheck disable=SC1091
source "$services_dir/env"
BASELINE_BINARY="$baseline" python3 bench/sampler.py
