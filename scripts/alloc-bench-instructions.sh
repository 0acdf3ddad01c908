#!/bin/sh
# Instructions per operation of each alloc-bench row, counted by callgrind.
# Usage: scripts/alloc-bench-instructions.sh [ROW...]   (default: every row)
# alloc-bench --row ROW measures one row inside `alloc_bench_measured` and
# prints `ops N`; callgrind counts only inside that function.
# BENCH=path overrides the binary (default: the release alloc-bench).
set -eu
cd "$(dirname "$0")/.."
bench=${BENCH:-.build/release/alloc-bench}
[ -n "${BENCH:-}" ] || swift build -c release --product alloc-bench >/dev/null
[ $# -gt 0 ] || set -- a b.alloc b.free c d e.reserve e.unreserve
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '%-12s %14s %10s %12s\n' row instructions ops 'instr/op'
for row in "$@"; do
  ops=$(valgrind --tool=callgrind --toggle-collect='*alloc_bench_measured*' \
    --callgrind-out-file="$out/$row.out" "$bench" --row "$row" 2>/dev/null | sed -n 's/^ops //p')
  ir=$(sed -n 's/^summary: *//p' "$out/$row.out" | cut -d' ' -f1)
  printf '%-12s %14s %10s %12s\n' "$row" "$ir" "$ops" "$(awk -v i="$ir" -v o="$ops" 'BEGIN { printf "%.1f", i / o }')"
done
