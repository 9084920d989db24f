// An experiment file (YAML): the model, its weights, how to compile it and
// what to run. Every key is checked; an unknown key, a wrong type or a value
// out of range is one error naming file:line:column, the key and what is
// allowed. docs/experiments.md documents the schema.
//
//   model:
//     preset: gemma3-270m          # or explicit dims (graphs/gemma3_config.h)
//     weights: ${GRAPHC_MODELS_DIR}/gemma-3-270m-Q4_K_M.gguf
//     tokenizer: path/to/tokenizer.model   # optional: a GGUF carries its own
//     adapter: runs/x/adapter      # optional: a LoRA adapter (PEFT directory) applied to the model
//   compile:
//     passes: default              # a pipeline string or a YAML list
//     dtype: stored                # weights: stored (the checkpoint's formats) or f32
//     threads: 0                   # 0: all cores
//     cache_dir: ${HOME}/.cache/graphc   # the JIT's object cache ('' for none)
//   run:
//     task: generate               # generate or evaluate
//     prompt: "The capital of France is"   # or prompts_file: one prompt per line
//     chat: false                  # wrap prompts in Gemma's chat template
//     max_new_tokens: 64
//     stop: ["\n\n"]               # stop strings
//     sampling: {strategy: greedy, temperature: 1.0, top_k: 0, top_p: 1.0,
//                repetition_penalty: 1.0, seed: 0}
//     text_file: corpus.txt        # evaluate: the text to score
//     window: 512                  # evaluate: tokens per window (default max_context)
//
//   train:                         # run.task: train (docs/experiments.md)
//     mode: lora                   # LoRA adapters on a frozen base
//     lora: {targets: "layer.*.q_proj|...", rank: 16, alpha: 32, dropout: 0, init: kaiming, seed: 0}
//     data: {path: corpus.txt, heldout_fraction: 0.05, seed: 0}
//     seq_len: 256
//     micro_batches: 1             # sequences per step (gradients accumulated)
//     steps: 200
//     optimizer: {kind: adamw, lr: 2e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8,
//                 momentum: 0.9, weight_decay: 0, clip_norm: 1.0}
//     schedule: {kind: cosine, warmup_steps: 10, total_steps: 0, restart_every: 0, min_ratio: 0.1}
//     eval: {every: 50, sequences: 16}
//     checkpoint: {every: 50}
//     output: runs/gemma3-270m-lora   # metrics.jsonl, loss.svg, checkpoint, adapter/
//     resume: true                 # continue from output/checkpoint.safetensors
//
// Overrides from the command line (`--set run.max_new_tokens=32`) replace or
// add one scalar each before validation, so they are checked like the file.
#pragma once

#include <string>
#include <vector>

#include "graphs/gemma3_config.h"
#include "ir/status.h"

namespace graphc {

// $XDG_CACHE_HOME/graphc, else $HOME/.cache/graphc, else empty (no cache).
std::string default_cache_dir();

struct SamplingOptions {
  std::string strategy = "greedy";  // greedy or sample
  double temperature = 1.0;         // sample: logits are divided by it
  int64_t top_k = 0;                // sample: keep the k most likely tokens (0: all)
  double top_p = 1.0;               // sample: keep the smallest set with this much probability
  double repetition_penalty = 1.0;  // > 1 makes tokens already produced less likely
  uint64_t seed = 0;
};

struct RunOptions {
  std::string task = "generate";  // generate, evaluate or train
  std::string prompt;             // generate: one prompt ...
  std::string prompts_file;       // ... or a file with one prompt per line
  bool chat = false;
  int64_t max_new_tokens = 64;
  std::vector<std::string> stop;  // generation also stops when one of these appears in the text
  SamplingOptions sampling;
  std::string text_file;  // evaluate: the text whose perplexity is measured
  int64_t window = 0;     // evaluate: tokens per window (0: the model's max_context)
};

// The default LoRA targets: every attention and MLP projection.
inline constexpr const char* kDefaultLoraTargets =
    "layer.*.q_proj|layer.*.k_proj|layer.*.v_proj|layer.*.o_proj|layer.*.gate_proj|layer.*.up_proj|layer.*.down_proj";

struct TrainOptions {
  std::string mode = "lora";
  std::string lora_targets = kDefaultLoraTargets;  // globs over the graph's weight names
  int64_t lora_rank = 16;
  double lora_alpha = 32;
  double lora_dropout = 0;
  std::string lora_init = "kaiming";
  int64_t lora_seed = 0;
  std::string data_path;
  double heldout_fraction = 0.05;
  int64_t data_seed = 0;
  int64_t seq_len = 256;
  int64_t micro_batches = 1;
  int64_t steps = 200;
  int64_t loss_chunk = 128;  // rows of logits per cross-entropy chunk (128 x vocab floats each)
  std::string optimizer = "adamw";
  double lr = 2e-4, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, momentum = 0.9, weight_decay = 0, clip_norm = 1.0;
  std::string schedule = "constant";
  int64_t warmup_steps = 0, total_steps = 0, restart_every = 0;  // total_steps 0: the run's steps
  double min_ratio = 0;
  int64_t eval_every = 50, eval_sequences = 16;
  int64_t checkpoint_every = 50;
  std::string output;  // empty: runs/<experiment file's stem>
  bool resume = true;
};

struct Experiment {
  std::string file;
  Gemma3Config model;
  std::string weights;             // empty: no checkpoint named
  std::string passes = "default";  // a pipeline string
  std::string weights_dtype = "stored";  // "stored" or "f32"
  int threads = 0;                       // 0: all cores
  std::string cache_dir = default_cache_dir();
  std::string tokenizer;  // empty: the checkpoint's own
  std::string adapter;    // a PEFT LoRA adapter directory; empty: none
  RunOptions run;
  TrainOptions train;
};

// `overrides` are `key.path=value` assignments applied before validation.
Expected<Experiment> load_experiment(const std::string& path, const std::vector<std::string>& overrides = {});
Expected<Experiment> parse_experiment(const std::string& yaml_text, const std::string& file,
                                      const std::vector<std::string>& overrides = {});

// The experiment's YAML with the overrides applied (for an artifact to keep
// what it was compiled from).
Expected<std::string> experiment_with_overrides(const std::string& yaml_text, const std::string& file,
                                                const std::vector<std::string>& overrides);

// Replaces ${VAR} with the environment variable's value; ${VAR:-default}
// when it is unset or empty. An unset variable without a default is an error.
Expected<std::string> expand_variables(const std::string& text);

}  // namespace graphc
