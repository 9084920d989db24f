#include "graphs/optimizer.h"

#include <fmt/format.h>

#include <cmath>

namespace graphc {

Status LearningRateSchedule::validate() const {
  if (kind != "constant" && kind != "warmup" && kind != "cosine" && kind != "cosine_restarts")
    return Error{"schedule '" + kind + "': expected constant, warmup, cosine or cosine_restarts"};
  if (!(lr > 0)) return Error{fmt::format("lr {} must be positive", lr)};
  if (warmup_steps < 0) return Error{"warmup_steps must be >= 0"};
  if (kind == "cosine" && total_steps <= warmup_steps)
    return Error{fmt::format("cosine: total_steps {} must exceed warmup_steps {}", total_steps, warmup_steps)};
  if (kind == "cosine_restarts" && restart_every <= 0) return Error{"cosine_restarts: restart_every must be > 0"};
  if (min_ratio < 0 || min_ratio > 1) return Error{"min_ratio must be in [0, 1]"};
  return {};
}

Status OptimizerConfig::validate() const {
  if (kind != "adamw" && kind != "sgd") return Error{"optimizer '" + kind + "': expected adamw or sgd"};
  if (beta1 < 0 || beta1 >= 1 || beta2 < 0 || beta2 >= 1) return Error{"betas must be in [0, 1)"};
  if (!(eps > 0)) return Error{"eps must be positive"};
  if (clip_norm < 0) return Error{"clip_norm must be >= 0 (0 turns clipping off)"};
  if (weight_decay < 0) return Error{"weight_decay must be >= 0"};
  return schedule.validate();
}

Val learning_rate(Builder& b, Val step, const LearningRateSchedule& s) {
  auto f = [&](double v) { return b.scalar(v); };
  Val t = b.cast(step, DType::f32);
  Val factor = f(1.0);
  if (s.warmup_steps > 0) factor = b.min(f(1.0), (t + f(1.0)) / f(double(s.warmup_steps)));
  if (s.kind == "cosine" || s.kind == "cosine_restarts") {
    // Steps since the warm-up ended, then the position in the current cycle.
    Val since = b.max(step - b.scalar(double(s.warmup_steps), DType::i64), b.scalar(0, DType::i64));
    Val progress;
    if (s.kind == "cosine") {
      progress = b.min(f(1.0), b.cast(since, DType::f32) / f(double(s.total_steps - s.warmup_steps)));
    } else {
      Val period = b.scalar(double(s.restart_every), DType::i64);
      Val in_cycle = since - (since / period) * period;
      progress = b.cast(in_cycle, DType::f32) / f(double(s.restart_every));
    }
    Val cosine = f(0.5) * (f(1.0) + b.cos(f(M_PI) * progress));
    Val decay = f(s.min_ratio) + f(1.0 - s.min_ratio) * cosine;
    // During warm-up the decay is 1 (progress 0), so the product is exact.
    factor = factor * decay;
  }
  return f(s.lr) * factor;
}

Val global_norm(Builder& b, const std::vector<Val>& grads) {
  Val total = b.scalar(0.0);
  for (const Val& g : grads) {
    std::vector<int64_t> all;
    for (int d = 0; d < g.type().rank(); ++d) all.push_back(d);
    total = total + b.sum(g * g, all);
  }
  return b.sqrt(total);
}

Val apply_optimizer(Builder& b, const OptimizerConfig& o, const std::vector<std::string>& params,
                    const std::vector<Val>& values, std::vector<Val> grads, Val step, Val lr) {
  Module& m = b.module();
  auto f = [&](double v) { return b.scalar(v); };
  Val norm = global_norm(b, grads);
  if (o.clip_norm > 0) {
    Val scale = b.min(f(1.0), f(o.clip_norm) / (norm + f(1e-6)));
    for (Val& g : grads) g = g * scale;
  }
  Val t1 = b.cast(step, DType::f32) + f(1.0);
  // Bias corrections of Adam: 1 - beta^t for update number t (1-based).
  Val correction1 = f(1.0) - b.pow(f(o.beta1), t1);
  Val correction2 = f(1.0) - b.pow(f(o.beta2), t1);
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string& p = params[i];
    const TensorType type = values[i].type();
    Val g = grads[i];
    Val w = values[i];
    Val update;
    if (o.kind == "adamw") {
      const std::string mn = p + ".adam_m", vn = p + ".adam_v";
      if (!m.global(mn)) m.add_global(GlobalKind::State, mn, type);
      if (!m.global(vn)) m.add_global(GlobalKind::State, vn, type);
      Val m1 = f(o.beta1) * b.state_get(mn) + f(1.0 - o.beta1) * g;
      Val v1 = f(o.beta2) * b.state_get(vn) + f(1.0 - o.beta2) * (g * g);
      b.state_set(mn, m1);
      b.state_set(vn, v1);
      update = (m1 / correction1) / (b.sqrt(v1 / correction2) + f(o.eps));
    } else {
      const std::string bn = p + ".momentum";
      if (!m.global(bn)) m.add_global(GlobalKind::State, bn, type);
      Val buf = f(o.momentum) * b.state_get(bn) + g;
      b.state_set(bn, buf);
      update = buf;
    }
    if (o.weight_decay > 0) update = update + f(o.weight_decay) * w;
    b.state_set(p, w - lr * update);
  }
  return norm;
}

}  // namespace graphc
