#!/usr/bin/env bash
# The headline table (issue 29): builds the release binary as the README does, installs the peers
# (Debian's node, process, postgres and redis exporters and Netdata), starts PostgreSQL and Redis,
# runs bench/peers.py and puts its table into docs/benchmarks.md (between the peers markers).
# BENCH_ROUNDS (60), BENCH_IDLE_SECONDS (120), BENCH_STATUSES (200000), BENCH_PROCESSES (150).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --bench
swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release --product mastiff
services_dir=$(mktemp -d -t mastiff-bench-services.XXXXXX)
trap 'scripts/services.sh stop "$services_dir"' EXIT
scripts/services.sh start "$services_dir"
table=$(mktemp)
MASTIFF_BENCH_SERVICES_ENV="$services_dir/env" python3 bench/peers.py | tee "$table"
python3 - "$table" <<'PY'
import re, sys
table = open(sys.argv[1]).read().strip()
path = "docs/benchmarks.md"
text = open(path).read()
begin, end = "<!-- peers:begin (bench/peers.sh writes this) -->", "<!-- peers:end -->"
if begin not in text:
    sys.exit(f"{path} has no {begin!r}")
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(path, "w").write(head + begin + "\n" + table + "\n" + end + tail)
print(f"peers: the table is in {path}", file=sys.stderr)
PY
