#!/usr/bin/env bash
# Runs every fuzz target (Fuzz/Entries: statsd datagrams, statsd mapping files, mastiff.yml,
# PromQL, rule files, templates, Prometheus text, JSON and dotenv; S3's answers, Redis INFO and
# Sidekiq's records, age files, backup manifests, the state file, HTTP requests) under libFuzzer with
# AddressSanitizer for SECONDS each (default 30), starting from Fuzz/Corpus, the repository's own
# files of each kind and Fuzz/Regressions. Prints executions and coverage per target; a crash,
# or hang fails the run, and its input is kept in .build-fuzz/crashes/ (check it in under
# Fuzz/Regressions/<target>/ once fixed: FuzzRegressionTests replays it).
#
#     scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
scratch=.build-fuzz
export MASTIFF_FUZZ=1
# lld: gold fails on the sanitizer runtime's debug information when it links the driver.
swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld --scratch-path "$scratch" --product mastiff-fuzz >&2
binary=$scratch/release/mastiff-fuzz
work=$(mktemp -d -t mastiff-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The repository's own inputs of each kind, as further seeds.
extra() {
  case $1 in
    config) echo etc/mastiff.yml ;;
    rule-file) echo alerts/mastiff.rules.yml alerts/corpus/*.rules.yml ;;
    statsd-mapping) echo etc/statsd-mapping-mastodon.yml ;;
    exposition) echo Tests/MastiffCollectorsTests/Fixtures/mastodon-endpoints/*.prom ;;
  esac
}
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && mapfile -t targets < <(ls Fuzz/Corpus)
status=0
total=0
printf '%-15s %12s %10s %9s\n' target executions "exec/s" coverage
for target in "${targets[@]}"; do
  corpus=$work/$target
  mkdir -p "$corpus"
  cp Fuzz/Corpus/"$target"/* "$corpus"/
  for file in $(extra "$target"); do cp "$file" "$corpus"/; done
  if [[ -d Fuzz/Regressions/$target ]]; then cp Fuzz/Regressions/"$target"/* "$corpus"/ 2>/dev/null || true; fi
  log=$work/$target.log
  # -detect_leaks=0: LeakSanitizer takes the Swift runtime's metadata caches for leaks; memory
  # growth is what bench/soak.sh measures.
  # A dictionary of the format's tokens, where one helps (Fuzz/Dictionaries).
  dictionary=()
  [[ -f Fuzz/Dictionaries/$target.dict ]] && dictionary=(-dict="Fuzz/Dictionaries/$target.dict")
  if ASAN_OPTIONS=detect_leaks=0 MASTIFF_FUZZ_TARGET=$target "$binary" "$corpus" "${dictionary[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -detect_leaks=0 \
      -artifact_prefix="$work/$target-" -print_final_stats=1 >"$log" 2>&1; then
    executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
    total=$((total + executions))
    printf '%-15s %12d %10d %9d\n' "$target" "$executions" $((executions / seconds)) "$coverage"
  else
    echo "$target: libFuzzer stopped on a crash or a hang:"
    grep -E "ERROR|SUMMARY|Test unit written|==[0-9]+==" "$log" | head -20 || tail -40 "$log"
    mkdir -p "$scratch/crashes"
    cp "$work/$target"-* "$scratch/crashes/" 2>/dev/null || true
    status=1
  fi
done
echo "total executions: $total"
exit $status
