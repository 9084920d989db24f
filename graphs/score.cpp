#include "graphs/score.h"

#include "ir/builder.h"

namespace graphc {

Status add_score(Module& module, const Gemma3Config& config) {
  if (!module.function("prefill")) return Error{"score: the module has no prefill (build it with build_gemma3)"};
  const Dim seq = Dim::sym("seq");
  const int64_t V = config.vocab;
  Builder b = Builder::function(module, "score");
  const Val tokens = b.param(TensorType(DType::i32, {seq}), "tokens");
  const Val targets = b.param(TensorType(DType::i32, {seq}), "targets");
  const Val weights = b.param(TensorType(DType::f32, {seq}), "weights");
  const Val logits = b.call("prefill", {tokens})[0];
  // log-sum-exp per position, shifted by the row maximum for range.
  const Val row_max = b.reduce(logits, "max", {1}, /*keepdims=*/true);
  const Val shifted = b.sub(logits, row_max);
  const Val exps = b.exp(shifted);
  const Val sums = b.sum(exps, {1}, /*keepdims=*/true);
  const Val log_sums = b.log(sums);
  const Val lse_2d = b.add(log_sums, row_max);
  const Val lse = b.reshape(lse_2d, {seq});
  // The target's logit: the row masked to the target's column, summed.
  const Val columns = b.iota({seq, V}, 1, DType::i32);
  const Val target_col = b.reshape(targets, {seq, 1});
  const Val is_target = b.compare(columns, "eq", target_col);
  const Val zero = b.scalar(0.0);
  const Val masked = b.select(is_target, logits, zero);
  const Val target_logit = b.sum(masked, {1});
  const Val nll = b.sub(lse, target_logit);
  const Val weighted = b.mul(nll, weights);
  b.ret({b.sum(weighted, {0}).named("nll")});
  return {};
}

}  // namespace graphc
