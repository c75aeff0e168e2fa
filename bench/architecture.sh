#!/usr/bin/env bash
# Builds the release binary and, in a scratch worktree, the release binary of the commit before
# issue 23's redesign (BASELINE_COMMIT), starts PostgreSQL and Redis, runs bench/architecture.py,
# and counts the lines of Sources/ and the unstructured tasks in both commits.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
baseline_commit=${BASELINE_COMMIT:-86f674c}
swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release --product mastiff
# shellcheck source=bench/baseline.sh
source bench/baseline.sh
baseline=$(baseline_binary "$baseline_commit")
services_dir=$(mktemp -d -t mastiff-bench-services.XXXXXX)
trap 'scripts/services.sh stop "$services_dir"' EXIT
scripts/services.sh start "$services_dir"
# shellcheck disable=SC1091
source "$services_dir/env"
BASELINE_BINARY="$baseline" python3 bench/architecture.py
lines() { git ls-tree -r --name-only "$1" -- Sources | grep '\.swift$' | while read -r f; do git show "$1:$f"; done | wc -l; }
tasks() { git grep -c -E '(^|[^.a-zA-Z])Task(<[^>]*>)? *\{' "$1" -- Sources | awk -F: '{ n += $NF } END { print n + 0 }'; }
echo
echo "| commit | lines of Sources/*.swift | unstructured Task {} |"
echo "| --- | ---: | ---: |"
echo "| $baseline_commit (before) | $(lines "$baseline_commit") | $(tasks "$baseline_commit") |"
echo "| HEAD | $(lines HEAD) | $(tasks HEAD) |"
