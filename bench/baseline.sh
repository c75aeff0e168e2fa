# Sourced by the before/after benches: `baseline_binary COMMIT` builds the release binary of
# COMMIT once, in a scratch worktree under .build-baseline-COMMIT, and prints its path.
baseline_binary() {
  local commit=$1 scratch=.build-baseline-$1
  if [[ ! -x $scratch/release/mastiff ]]; then
    rm -rf "$scratch/src"
    git worktree add --force --detach "$scratch/src" "$commit" >/dev/null
    (cd "$scratch/src" && swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .. --product mastiff) >&2
    git worktree remove --force "$scratch/src"
  fi
  echo "$PWD/$scratch/release/mastiff"
}
