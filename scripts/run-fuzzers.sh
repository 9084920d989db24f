#!/usr/bin/env bash
# Runs every fuzz_* binary in DIR for SECONDS each, two at a time, starting
# from tests/fuzz/corpus/<name>/ (copied, so the committed seeds stay as they
# are). Fails on any crash, leak or hang (a single input over 10 s).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin_dir="$1"
seconds="${2:-60}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

run_one() {
  local fuzzer="$1" name corpus
  name="$(basename "$fuzzer")"
  corpus="$work/$name"
  mkdir -p "$corpus"
  local seeds="tests/fuzz/corpus/${name#fuzz_}"
  [[ -d $seeds ]] && cp -r "$seeds/." "$corpus/"
  if "$fuzzer" "$corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$work/$name-" -print_final_stats=1 >"$work/$name.log" 2>&1; then
    echo "fuzz $name: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$work/$name.log" | awk '{print $2}') runs ok"
  else
    echo "fuzz $name: FAILED" >&2
    tail -n 60 "$work/$name.log" >&2
    return 1
  fi
}

fuzzers=("$bin_dir"/fuzz_*)
[[ -e ${fuzzers[0]} ]] || { echo "run-fuzzers: no fuzz_* binaries in $bin_dir" >&2; exit 1; }
pids=()
status=0
for f in "${fuzzers[@]}"; do
  run_one "$f" &
  pids+=($!)
  if ((${#pids[@]} == 2)); then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit "$status"
