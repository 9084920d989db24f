#include "tools/train_config.h"

#include <fmt/format.h>

namespace graphc::tools {

TrainConfig train_config(const TrainOptions& o) {
  TrainConfig t;
  t.seq_len = o.seq_len;
  t.micro_batches = o.micro_batches;
  t.loss_chunk = o.loss_chunk;
  t.lora_dropout = o.lora_dropout;
  if (o.mode == "full") {
    t.adapters = "weights-to-state";
    t.trainable = kGemma3AllWeights;
  } else {
    t.adapters = fmt::format("add-lora{{targets={},rank={},alpha={},init={},seed={}}}", o.lora_targets, o.lora_rank,
                             o.lora_alpha, o.lora_init, o.lora_seed);
  }
  OptimizerConfig& opt = t.optimizer;
  opt.kind = o.optimizer;
  opt.beta1 = o.beta1, opt.beta2 = o.beta2, opt.eps = o.eps, opt.momentum = o.momentum;
  opt.weight_decay = o.weight_decay, opt.clip_norm = o.clip_norm;
  opt.schedule.kind = o.schedule;
  opt.schedule.lr = o.lr;
  opt.schedule.warmup_steps = o.warmup_steps;
  opt.schedule.total_steps = o.total_steps > 0 ? o.total_steps : o.steps;
  opt.schedule.restart_every = o.restart_every;
  opt.schedule.min_ratio = o.min_ratio;
  return t;
}

}  // namespace graphc::tools
