// Training Gemma-3 as IR. add_training() adds to a Gemma-3 module (built by
// build_gemma3, with LoRA adapters added by the add-lora pass or not):
//
//   @train_grads(tokens: i32[S], targets: i32[S], weights: f32[S], inv_count: f32[], seed: i64[])
//       -> (loss_sum: f32[], grads...)       forward + backward of one sequence
//       (seed: LoRA dropout's masks; train_step derives it from the step)
//   @train_step(tokens: i32[M, S], targets: i32[M, S], weights: f32[M, S])
//       -> (loss: f32[], grad_norm: f32[], lr: f32[])
//       a loop over the M micro-batches accumulating gradients, then clipping
//       and the optimizer update of every trainable state global, and
//       @train.step += 1
//   @train_loop(stream: i32[rows, S + 1], order: i32[steps, M], count: i64[])
//       -> (losses: f32[steps], grad_norms: f32[steps], lrs: f32[steps], steps_done: i64[])
//       `count` train steps in a loop; step k trains on the stream rows
//       order[k] (inputs and next-token targets of each row), reports
//       [loss, grad_norm, lr] to the host with emit on channel "train_step"
//       and stops early when the host answers false
//   @eval_loss(tokens: i32[S], targets: i32[S], weights: f32[S]) -> (nll_sum: f32[], count: f32[])
//
// @lora_init(seed) (from add-lora) initialises the adapters. Trainable
// parameters are state globals (LoRA's @W.lora_a / @W.lora_b, or
// weights turned into state for full fine-tuning); the frozen base stays
// weights read from the checkpoint. weights[i] = 0 drops token i from the
// loss (padding, prompt); the loss is the mean over counted tokens of all
// micro-batches. Periodic events (ReLoRA's merge-and-reset) are meant to be
// `if` ops on @train.step inside the step, not host code.
#pragma once

#include <string>
#include <vector>

#include "graphs/gemma3_config.h"
#include "graphs/optimizer.h"
#include "ir/module.h"
#include "ir/status.h"

namespace graphc {

// Every weight of a Gemma-3 module (not the KV caches), as trainable globs
// for full fine-tuning.
inline constexpr const char* kGemma3AllWeights = "embed|final_norm|layer.*_norm|layer.*_proj";

struct TrainConfig {
  int64_t seq_len = 256;
  int64_t micro_batches = 1;
  int64_t loss_chunk = 128;  // rows of logits per cross-entropy chunk
  // Passes run on the module once the forward exists and before it is
  // differentiated: "add-lora{targets=layer.*.q_proj|...,rank=16,alpha=32}"
  // for LoRA (trainable "*.lora_a|*.lora_b"), "weights-to-state" for full
  // fine-tuning (trainable kGemma3AllWeights). They rewrite every function, so generation
  // in the same module uses what is trained.
  std::string adapters;
  std::string trainable = "*.lora_a|*.lora_b";  // globs over state globals
  double lora_dropout = 0;  // in [0, 1): dropout on every adapter's input, training only
  OptimizerConfig optimizer;
};

Status add_training(Module& m, const Gemma3Config& c, const TrainConfig& t);

// The trainable state globals add_training found, in the order of
// train_grads' gradient results.
std::vector<std::string> trainable_parameters(const Module& m, const std::string& globs);

}  // namespace graphc
