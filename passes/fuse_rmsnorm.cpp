// fuse-rmsnorm: replaces Gemma's unfused RMSNorm (graphs/layers.cpp rms_norm)
// by one rms_norm op.
//
// Matches, with the operands of each mul and add in either order:
//
//     x ─────────┬─────────────────────────────────────────┐
//                ▼                                         ▼
//          mul(x, x) ─► reduce{mean, axes=[-1], keepdims} ─► add(·, eps) ─► rsqrt ─► mul(x, ·) ─┐
//                                                                                               ▼
//                                             w ─► add(1.0, w) ───────────────────────────────► mul ─► y
//
//   y = (x * rsqrt(mean(x * x, last axis) + eps)) * (1 + w)
//
// and rewrites it to  y = rms_norm(x, w) {eps}. The gain is (1 + w), not w:
// Gemma stores zero-centred norm weights, and an RMSNorm whose gain is a
// plain w is not this pattern (it is refused with a remark).
//
// Guarantees: the rms_norm op computes the pattern's formula in the same
// order with the same roundings (see backends/reference/fused_kernels.cpp),
// so results are bit-identical on the reference interpreter. The ops it
// replaced are removed once nothing else uses them (a shared constant stays).
//
// Refuses, with a remark naming the mean's value, when: the mean is not over
// exactly the last axis or drops it (keepdims = false); eps is not a splat
// constant; the chain is not followed by rsqrt, then a product with the same
// x; the gain is not (1.0 + w) with 1.0 exact in x's dtype; w is not [D] for
// x [..., D]; or any intermediate (x*x, the mean, + eps, rsqrt, x * rsqrt,
// 1 + w) has a user outside the pattern. A mean of something other than x*x
// is not an RMSNorm candidate and passes silently.
#include <fmt/format.h>

#include "passes/fusion_pattern.h"

namespace graphc {
namespace {

// The operand of a two-operand op that is not `known`, or null if `known` is
// not one of them.
Value* other_operand(const Op& op, const Value* known) {
  if (op.num_operands() != 2) return nullptr;
  if (op.operand(0) == known) return op.operand(1);
  if (op.operand(1) == known) return op.operand(0);
  return nullptr;
}

// Tries the pattern whose mean is `mean`; returns whether it fused.
bool fuse_at(FusionRewriter& rw, Op* mean) {
  if (mean->attr_string("kind") != "mean") return false;
  Op* square = defined_by(mean->operand(0), "mul");
  if (!square || square->operand(0) != square->operand(1)) return false;
  Value* x = square->operand(0);
  Value* ms = mean->result(0);
  if (!is_floating(x->dtype())) return false;

  const std::vector<int64_t> axes = mean->attr_ints("axes");
  if (axes.size() != 1 || !is_last_axis(axes[0], x->rank())) {
    rw.refuse(ms, axes.size() == 1 ? fmt::format("mean is over axis {}, not the last axis", axes[0])
                                   : "mean is over several axes, not the last axis alone");
    return false;
  }
  if (!mean->attr_bool("keepdims")) {
    rw.refuse(ms, "mean drops the reduced axis (keepdims = false)");
    return false;
  }
  Op* add_eps = rw.user_of_kind(ms, "add");
  if (!add_eps) {
    rw.refuse(ms, "mean(x^2) is not followed by + eps");
    return false;
  }
  Value* eps_value = other_operand(*add_eps, ms);
  const std::optional<double> eps = splat_constant(eps_value);
  if (!eps || add_eps->result(0)->shape() != ms->shape()) {
    rw.refuse(ms, "what is added to mean(x^2) is not a scalar constant eps");
    return false;
  }
  Op* rsqrt = rw.user_of_kind(add_eps->result(0), "rsqrt");
  if (!rsqrt) {
    rw.refuse(ms, "mean(x^2) + eps is not followed by rsqrt");
    return false;
  }
  Op* normed = rw.user_of_kind(rsqrt->result(0), "mul",
                               [&](const Op& m) { return other_operand(m, rsqrt->result(0)) == x; });
  if (!normed) {
    rw.refuse(ms, "rsqrt(mean(x^2) + eps) does not multiply the same x");
    return false;
  }
  Op* scaled = rw.user_of_kind(normed->result(0), "mul");
  if (!scaled) {
    rw.refuse(ms, "x * rsqrt(...) is not multiplied by a gain (1 + w)");
    return false;
  }
  Op* gain = defined_by(other_operand(*scaled, normed->result(0)), "add");
  Value* one = nullptr;
  Value* w = nullptr;
  for (int i = 0; gain && i < 2 && !w; ++i)
    if (is_splat(gain->operand(i), 1.0)) {
      one = gain->operand(i);
      w = gain->operand(1 - i);
    }
  if (!w) {
    rw.refuse(ms, "the gain is not (1 + w); Gemma's RMSNorm multiplies by 1 + w, a plain w is not fused");
    return false;
  }
  if (w->dtype() != x->dtype() || w->rank() != 1 || !(w->shape()[0] == x->shape().back()) ||
      scaled->result(0)->type() != x->type()) {
    rw.refuse(ms, fmt::format("the weight is {}, not [{}] for x {}", w->type().str(), x->shape().back().str(),
                              x->type().str()));
    return false;
  }
  const std::vector<Op*> pattern{square,    mean,   eps_value->defining_op(), add_eps, rsqrt, normed,
                                 one->defining_op(), gain, scaled};
  for (const Op* inner : {square, mean, add_eps, rsqrt, normed, gain})
    if (!rw.used_only_by(inner->result(0), pattern)) {
      rw.refuse(ms, fmt::format("{} ({}) is also used outside the pattern", rw.name(inner->result(0)), inner->name()));
      return false;
    }

  Expected<Op*> fused = rw.insert_before(scaled, "rms_norm", {x, w}, {{"eps", *eps}});
  if (!fused.ok()) {
    rw.refuse(ms, fused.error().message);
    return false;
  }
  rw.replace(scaled->result(0), (*fused)->result(0), pattern);
  return true;
}

class FuseRmsNorm : public Pass {
 public:
  std::string name() const override { return "fuse-rmsnorm"; }
  std::string summary() const override {
    return "x * rsqrt(mean(x^2) + eps) * (1 + w) -> rms_norm(x, w) {eps}";
  }
  Expected<bool> run(Module& module, PassStats& stats) override {
    return for_each_function(name(), module, stats, [](FusionRewriter& rw) {
      for (Block* block : rw.blocks())
        for (Op* op : FusionRewriter::snapshot(*block))
          if (!rw.is_removed(op) && op->name() == "reduce") fuse_at(rw, op);
    });
  }
};

}  // namespace

std::unique_ptr<Pass> create_fuse_rmsnorm(const PassOptions& options) {
  options.expect_only({});
  return std::make_unique<FuseRmsNorm>();
}

}  // namespace graphc
