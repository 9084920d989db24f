// Optimizers as IR: the learning-rate schedule, global gradient-norm
// clipping, and the SGD-with-momentum and AdamW updates, written with the
// IR's own ops so the reference interpreter defines them and the fusion
// passes turn each update into one elementwise kernel per parameter.
// Parameters and moments are state globals; an update is a state_set.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/builder.h"
#include "ir/status.h"

namespace graphc {

struct LearningRateSchedule {
  // constant | warmup (linear warm-up, then constant) | cosine (warm-up,
  // then cosine decay to min_ratio * lr at total_steps) | cosine_restarts
  // (warm-up, then a cosine from lr to min_ratio * lr every restart_every
  // steps: the jagged schedule ReLoRA uses after each merge).
  std::string kind = "constant";
  double lr = 1e-4;
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;
  int64_t restart_every = 0;
  double min_ratio = 0.0;
  Status validate() const;
};

struct OptimizerConfig {
  std::string kind = "adamw";  // adamw | sgd (with momentum)
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double momentum = 0.9;
  double weight_decay = 0.0;  // decoupled: p -= lr * weight_decay * p
  double clip_norm = 1.0;     // global gradient-norm clipping; 0: off
  LearningRateSchedule schedule;
  Status validate() const;
};

// The learning rate of update number `step` (i64[], 0 for the first update).
Val learning_rate(Builder& b, Val step, const LearningRateSchedule& s);

// sqrt(sum of every gradient's squares).
Val global_norm(Builder& b, const std::vector<Val>& grads);

// Declares the optimizer's state for each parameter (`<param>.adam_m` and
// `.adam_v`, or `<param>.momentum`), then appends the update of every
// parameter from its gradient: clipping by the global norm first. `values`
// are the parameters' current values (state_get results). Returns the
// gradient norm before clipping.
Val apply_optimizer(Builder& b, const OptimizerConfig& o, const std::vector<std::string>& params,
                    const std::vector<Val>& values, std::vector<Val> grads, Val step, Val lr);

}  // namespace graphc
