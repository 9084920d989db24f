// Runs the PyTorch baseline (bench/pytorch_gemma3.py) as a subprocess and
// reads its one JSON line, so a C++ benchmark can print graphc's speed as a
// ratio to PyTorch measured in the same invocation, on the same machine in
// the same state, rather than to a figure from another day.
//
// The interpreter is $GRAPHC_BENCH_PYTHON, or python3 when that is unset; the
// project's .venv-reference/bin/python (made by tools/reference/make_golden.py)
// has torch, transformers and gguf. When the interpreter cannot import them,
// or the script fails, the baseline is skipped with a reason, never faked.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace graphc::bench {

struct BaselineOptions {
  std::string gguf;        // empty: <source>/models/gemma-3-270m-Q4_K_M.gguf
  std::string ids_file;    // empty: <source>/bench/gemma3_prompt_ids.json
  int prompt_tokens = 128;
  int decode_tokens = 128;
  int threads = 1;
  int repeat = 3;
};

struct BaselineResult {
  double prefill_tokens_per_s = 0;
  double decode_tokens_per_s = 0;
  int64_t peak_rss_bytes = 0;                   // whole process, loading included
  std::optional<int64_t> peak_rss_run_bytes;    // while running only, if measurable
  int threads = 0;
  std::string torch_version;
  std::string transformers_version;
  std::vector<int32_t> greedy_ids;              // the decoded tokens, for a cross-check
  std::string json;                             // the script's line as printed
};

// The interpreter the baseline runs with ($GRAPHC_BENCH_PYTHON or python3).
std::string baseline_python();

// <source>/bench/gemma3_prompt_ids.json: the prompt ids both sides run.
std::string default_prompt_ids_path();
// <source>/models/gemma-3-270m-Q4_K_M.gguf.
std::string default_gemma3_gguf_path();

// Runs `script` (relative to the source directory) with `args` under the
// baseline interpreter after checking that it can import `modules`; returns
// the script's JSON line, or nullopt with the reason in *skip_reason.
std::optional<std::string> run_baseline_script(const std::string& script, const std::vector<std::string>& args,
                                               const std::string& modules, std::string* skip_reason);

// Runs the baseline; on failure returns nullopt and says why in *skip_reason
// (one line, e.g. "python3 cannot import torch, transformers (...)").
std::optional<BaselineResult> run_pytorch_baseline(const BaselineOptions& options, std::string* skip_reason);

}  // namespace graphc::bench
