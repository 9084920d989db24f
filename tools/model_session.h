// A Gemma-3 experiment made ready to run: checkpoint, tokenizer, the module
// with its generate and score functions after the pass pipeline, and a
// backend (the JIT by default, or the reference interpreter). What graph-run
// does with an experiment, and what the tool tests drive.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ir/type.h"
#include "runtime/experiment.h"
#include "runtime/tokenizer.h"

namespace graphc::tools {

struct GenerationResult {
  std::string text;
  std::vector<int32_t> tokens;  // generated, stop token excluded
  int64_t prompt_tokens = 0;
  double prefill_seconds = 0;  // the call until the first token
  double decode_seconds = 0;   // first token to last
};

// What compiling produced and cost (graphc's summary).
struct CompileSummary {
  int functions = 0;
  int64_t ops_before = 0, ops_after = 0;  // before and after the pass pipeline
  int passes = 0;
  int64_t ops_fused = 0;
  int programs = 0, kernel_launches = 0, distinct_kernels = 0;
  int cache_hits = 0, cache_misses = 0;
  double jit_seconds = 0;
  int64_t arena_bytes = 0, lower_bound_bytes = 0;  // the largest arena and its lower bound
  int64_t weights_mapped_bytes = 0, weights_copied_bytes = 0;
};

struct EvaluationResult {
  int64_t tokens = 0;  // predicted tokens
  int64_t bytes = 0;   // of the text
  int64_t windows = 0;
  double nll = 0;  // nats, summed
  double perplexity() const;
  double bits_per_byte() const;
};

struct SessionOptions {
  std::string backend = "jit";  // or "reference"
  bool profile = false;         // time every kernel (JIT): profile_report()
};

class ModelSession {
 public:
  static Expected<std::unique_ptr<ModelSession>> open(const Experiment& exp, const SessionOptions& options = {});
  virtual ~ModelSession() = default;

  virtual const Tokenizer& tokenizer() const = 0;
  virtual const Gemma3Config& config() const = 0;

  // The prompt's token ids (chat template applied when run.chat), checked:
  // not empty, and prompt + max_new_tokens within the model's max_context.
  virtual Expected<std::vector<int32_t>> encode_prompt(const std::string& prompt) const = 0;

  // Generates from one prompt; `on_text` receives the text as it grows.
  virtual Expected<GenerationResult> generate(const std::string& prompt, uint64_t seed,
                                              const std::function<void(const std::string&)>& on_text) = 0;

  // Generates for every prompt in one program (generate_batch), prompt i
  // with seed + i, when padding to the longest prompt is exact (it fits the
  // sliding window, or all prompts have the same length); otherwise prompt
  // by prompt. Either way each result equals generate() on that prompt.
  // `on_text(i, text)` receives prompt i's text as it grows.
  virtual Expected<std::vector<GenerationResult>> generate_all(
      const std::vector<std::string>& prompts, uint64_t seed,
      const std::function<void(size_t, const std::string&)>& on_text) = 0;

  virtual Expected<EvaluationResult> evaluate(const std::string& text) = 0;

  // Compiles every function for these symbol values (JIT only).
  virtual Status compile_all(const SymbolBindings& bindings) = 0;
  virtual CompileSummary summary() const = 0;
  // The module after the pass pipeline, as text.
  virtual std::string optimized_ir() const = 0;
  // The memory plans of the compiled programs, as JSON.
  virtual std::string plans_json() const = 0;

  // Bytes of the largest arena compiled so far (0 on the reference backend).
  virtual int64_t arena_bytes() const = 0;
  virtual std::string backend_name() const = 0;
  // Time per kernel with SessionOptions::profile; empty otherwise.
  virtual std::string profile_report() const = 0;
};

}  // namespace graphc::tools
