#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time, starting from the committed seed corpus.
# New inputs go to a temp dir, never into the tree. A crash fails the run and leaves the crashing
# input in the current directory (crash-*), as libFuzzer does.
#   usage: run-fuzzers.sh BIN_DIR SECONDS_PER_TARGET
set -euo pipefail
bin_dir=$1
seconds=${2:-60}
corpus=$(cd "$(dirname "$0")" && pwd)/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for target in wire config ip_prefix batch_step; do
  mkdir -p "$work/$target"
  # The batch step takes the wire's frames: it starts from the wire corpus.
  seeds=$corpus/$target
  [[ $target == batch_step ]] && seeds=$corpus/wire
  echo "==> fuzz_$target for ${seconds}s"
  "$bin_dir/fuzz_$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 "$work/$target" "$seeds" 2>&1 | grep -E '^(#|stat::|==|INFO: Done|SUMMARY|.*ERROR)' | tail -n 8
  test "${PIPESTATUS[0]}" -eq 0
done
echo "fuzz: no crash in any target"
