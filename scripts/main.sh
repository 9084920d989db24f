#!/usr/bin/env bash
# The main job from a fresh clone: installs the dependencies, fetches the
# Gemma-3 270M weights, builds the tools, runs the built-in demo (a one-layer
# transformer block: its IR, then its output on the reference interpreter),
# and lets Gemma-3 270M continue a prompt, greedily, on the reference
# interpreter.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# ccache hashes paths relative to the checkout, so a fresh clone reuses the
# objects an earlier build of the same sources left in the cache.
export CCACHE_BASEDIR="$PWD"

scripts/install-deps.sh
scripts/fetch-weights.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target graphc graph-run pass-dump
build/bin/graph-run --demo
echo
build/bin/graph-run experiments/gemma3-270m-generate.yaml
