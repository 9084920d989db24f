#!/usr/bin/env bash
# The object cache: compiles an experiment twice into a fresh cache directory
# and prints both wall times and their ratio (the second compile loads every
# JIT object instead of optimising and compiling it).
#   bench/bench_compile_cache.sh [EXPERIMENT.yaml] [BUILD_DIR]   (3 repetitions)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
experiment="${1:-experiments/gemma3-270m-generate.yaml}"
build="${2:-build}"
cache="$(mktemp -d)"
trap 'rm -rf "$cache"' EXIT
wall() {
  local start end
  start=$(date +%s.%N)
  "$build/bin/graphc" "$experiment" --set "compile.cache_dir=$cache" >/dev/null 2>&1
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { print b - a }'
}
for rep in 1 2 3; do
  rm -rf "${cache:?}"/*
  first=$(wall)
  second=$(wall)
  awk -v r="$rep" -v f="$first" -v s="$second" \
    'BEGIN { printf "run %d: first compile %.2f s, second %.2f s, %.1fx faster\n", r, f, s, f / s }'
done
