#!/usr/bin/env bash
# Builds the release binary and, in a scratch worktree, the release binary of the commit before
# the sampler (BASELINE_COMMIT), starts PostgreSQL and Redis, and runs bench/sampler.py.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
baseline_commit=${BASELINE_COMMIT:-d07bcc7}
swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release
baseline_dir=.build-baseline/src
if [[ ! -x .build-baseline/release/mastiff ]]; then
  rm -rf "$baseline_dir"
  git worktree add --force --detach "$baseline_dir" "$baseline_commit" >/dev/null
  (cd "$baseline_dir" && swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path ../)
  git worktree remove --force "$baseline_dir"
fi
services_dir=$(mktemp -d -t mastiff-bench-services.XXXXXX)
trap 'scripts/services.sh stop "$services_dir"' EXIT
scripts/services.sh start "$services_dir"
# shellcheck disable=SC1091
source "$services_dir/env"
BASELINE_BINARY="$PWD/.build-baseline/release/mastiff" python3 bench/sampler.py
