// Fine-tuning Gemma-3 from an experiment's train section: the module with
// adapters and @train_step / @eval_loss (graphs/train_step.h) after the pass
// pipeline on the JIT, the frozen base as f32 weights from the checkpoint,
// batches from the packed, shuffled corpus, and the run's files in
// train.output:
//   metrics.jsonl             one JSON object per step (loss, grad_norm, lr,
//                             tokens/s) and per evaluation (held-out loss and
//                             perplexity)
//   loss.svg                  training and held-out loss against the step
//   checkpoint.safetensors    trainable state + optimizer moments + step and
//                             data position, every train.checkpoint.every steps
//   adapter/                  the LoRA adapter in PEFT's format, at the end
// A run that finds a checkpoint in its output directory (train.resume)
// continues from it; with one thread the continued run's losses equal an
// uninterrupted run's bit for bit.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/experiment.h"

namespace graphc::tools {

struct TrainStepRecord {
  int64_t step = 0;  // 1-based: the number of updates done
  double loss = 0, grad_norm = 0, lr = 0, tokens_per_s = 0, seconds = 0;
};

struct TrainSummary {
  int64_t first_step = 0, last_step = 0;  // first_step > 0 when resumed
  double first_loss = 0, last_loss = 0;
  double first_eval_loss = 0, last_eval_loss = 0;  // NaN when there was no evaluation
  double tokens_per_s = 0;
  int64_t arena_bytes = 0, lower_bound_bytes = 0;  // of @train_step's memory plan
  std::string output_dir;
};

struct TrainCallbacks {
  // Called after each step; return false to stop after it (a checkpoint is
  // written first). Tests use it to stop a run midway.
  std::function<bool(const TrainStepRecord&)> on_step;
  bool profile = false;  // time every kernel; the report goes to stderr at the end
};

Expected<TrainSummary> run_training(const Experiment& exp, const TrainCallbacks& callbacks = {});

// For benchmarks: the run's @train_step, compiled as run_training compiles
// it, timed on one fixed batch (every micro-batch the first seq_len + 1 ids
// of `ids`, repeated if shorter) after `warmup` untimed steps.
struct StepTimings {
  std::vector<double> seconds, losses;  // timed steps
  int64_t arena_bytes = 0, lower_bound_bytes = 0;
};
// For graphc: the run's program compiled (the model, its adapters, the pass
// pipeline, @train_step and @eval_loss on the JIT) without training.
struct TrainingCompileSummary {
  int programs = 0, kernel_launches = 0, distinct_kernels = 0, cache_hits = 0, cache_misses = 0;
  double jit_seconds = 0;
  int64_t arena_bytes = 0, lower_bound_bytes = 0;
  size_t trainable_tensors = 0;
  int64_t trainable_parameters = 0;
};
Expected<TrainingCompileSummary> compile_training(const Experiment& exp);

Expected<StepTimings> time_train_steps(const Experiment& exp, const std::vector<int32_t>& ids, int warmup, int steps);

}  // namespace graphc::tools
