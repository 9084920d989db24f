#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs the dependencies, fetches
# the Gemma-3 270M weights, builds, and runs the unit tests, the same tests
# under AddressSanitizer + UndefinedBehaviorSanitizer, and every fuzzer for
# 60 seconds from its seed corpus.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# ccache hashes paths relative to the checkout, so a fresh clone reuses the
# objects an earlier build of the same sources left in the cache.
export CCACHE_BASEDIR="$PWD"

scripts/install-deps.sh
scripts/fetch-weights.sh

jobs="$(nproc)"
log_dir="$(mktemp -d)"
trap 'rm -rf "$log_dir"' EXIT

step() { printf '\n==== %s ====\n' "$*"; }

step "build (Release)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"

step "unit tests"
ctest --test-dir build --output-on-failure -j "$jobs" | tee "$log_dir/unit.log"

step "unit tests under ASan + UBSan"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DGRAPHC_SANITIZE=ON \
  -DGRAPHC_WITH_LLVM=OFF -DGRAPHC_BENCH=OFF >/dev/null
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs" -L unit | tee "$log_dir/asan.log"

step "fuzzers, 60 s each"
CC=clang-19 CXX=clang++-19 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DGRAPHC_FUZZ=ON -DGRAPHC_WITH_LLVM=OFF -DGRAPHC_BENCH=OFF >/dev/null
cmake --build build-fuzz -j "$jobs" --target graphc_fuzzers
scripts/run-fuzzers.sh build-fuzz/bin 60 | tee "$log_dir/fuzz.log"

passed() { sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2 \1/p' "$1" | awk '{print $1 - $2}'; }
fuzzers="$(grep -c '^fuzz .* ok$' "$log_dir/fuzz.log" || true)"
total=$(($(passed "$log_dir/unit.log") + $(passed "$log_dir/asan.log") + fuzzers))
echo
echo "graphc: $total passed, 0 failed"
