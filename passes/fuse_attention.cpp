// fuse-attention: replaces scaled, masked softmax attention with grouped
// query heads (graphs/gemma3.cpp attention(), from the q/k/v reshapes through
// the product with v) by one attention op.
//
// Matches (the scale's mul in either operand order):
//
//   q [H, n, hd] ─► reshape [K, G, n, hd] ─┐
//   k [K, t, hd] ─► reshape [K, 1, t, hd] ─┴─► matmul(transpose_b) ─► mul(·, scale) ─┐
//                                                                                    ▼
//                                               mask ─► select(mask, ·, mask_value) ─► softmax(axis = last) ─┐
//   v [K, t, dv] ─► reshape [K, 1, t, dv] ───────────────────────────────────────────► matmul ◄──────────────┘
//                                                                                       ▼
//                                                                     reshape [H, n, dv] ─► y
//
//   y[h] = softmax(select(mask, q[h] k[h / G]^T * scale, mask_value)) v[h / G],   G = H / K
//
// and rewrites it to y = attention(q, k, v, mask) {scale, mask_value}. Also
// accepted: plain multi-head attention on q [H, n, hd], k and v [H, t, ·]
// without the reshapes (K = H); no `mul` (scale 1, which rounds the same); and
// a final matmul whose result is not reshaped to [H, n, dv], in which case the
// attention's result is reshaped back to [K, G, n, dv]. The mask must be a bool
// of rank <= 2 broadcasting to [n, t] (one mask shared by all heads:
// causal, sliding-window, or valid cache slots), mask_value a splat constant.
//
// Guarantees: attention computes the same dot products, scaling, selection,
// softmax and weighted sum in the same order with the same roundings
// (backends/reference/fused_kernels.cpp), so results are bit-identical on the
// reference interpreter. The replaced ops are removed.
//
// Refuses, with a remark naming the softmax's value, when: the softmax is
// not over the last axis; its input is not select(mask, scores, constant);
// the mask is per head (rank > 2) or not bool; the scores are not
// matmul(q, k, transpose_b) times a splat constant; the probabilities are not
// multiplied by v (one matmul, no transposes); the q/k/v reshapes are not
// the grouping drawn above; or an intermediate has a user outside the pattern.
#include <fmt/format.h>

#include "passes/fusion_pattern.h"

namespace graphc {
namespace {

// q, k, v as the fused op takes them, from the matmul operands qg, kg, vg.
struct Heads {
  Value *q = nullptr, *k = nullptr, *v = nullptr;
  std::vector<Op*> reshapes;
};

// GQA: qg = reshape(q [H, n, hd]) to [K, G, n, hd], kg and vg reshapes of
// [K, t, d] to [K, 1, t, d]. MHA: all three rank 3 as they are.
std::optional<Heads> strip_grouping(Value* qg, Value* kg, Value* vg) {
  if (qg->rank() == 3 && kg->rank() == 3 && vg->rank() == 3) return Heads{qg, kg, vg, {}};
  Op* rq = defined_by(qg, "reshape");
  Op* rk = defined_by(kg, "reshape");
  Op* rv = defined_by(vg, "reshape");
  if (!rq || !rk || !rv || qg->rank() != 4 || kg->rank() != 4 || vg->rank() != 4) return std::nullopt;
  Value *q = rq->operand(0), *k = rk->operand(0), *v = rv->operand(0);
  if (q->rank() != 3 || k->rank() != 3 || v->rank() != 3) return std::nullopt;
  const Shape &g = qg->shape(), &sq = q->shape();
  const Dim &K = g[0], &G = g[1];
  if (!K.is_static() || !G.is_static() || !sq[0].is_static() || K.value * G.value != sq[0].value) return std::nullopt;
  if (!(g[2] == sq[1]) || !(g[3] == sq[2])) return std::nullopt;
  for (const auto& [grouped, flat] : {std::pair<Value*, Value*>{kg, k}, {vg, v}}) {
    const Shape &a = grouped->shape(), &b = flat->shape();
    if (!(a[0] == K) || !(a[1] == Dim(1)) || !(a[2] == b[1]) || !(a[3] == b[2]) || !(b[0] == K)) return std::nullopt;
  }
  return Heads{q, k, v, {rq, rk, rv}};
}

bool fuse_at(FusionRewriter& rw, Op* softmax) {
  Value* probs = softmax->result(0);
  if (!is_last_axis(softmax->attr_int("axis"), probs->rank())) {
    rw.refuse(probs, fmt::format("softmax is over axis {}, not the last axis", softmax->attr_int("axis")));
    return false;
  }
  Op* select = defined_by(softmax->operand(0), "select");
  if (!select) return false;  // a softmax without a mask is not this pattern
  Value* mask = select->operand(0);
  const std::optional<double> fill = splat_constant(select->operand(2));
  if (!fill) {
    rw.refuse(probs, "the masked scores are not select(mask, scores, constant)");
    return false;
  }
  Op* scale_mul = defined_by(select->operand(1), "mul");
  Op* scores = nullptr;
  Value* scale_value = nullptr;
  double scale = 1.0;
  if (scale_mul) {
    for (int i = 0; i < 2 && !scores; ++i)
      if (splat_constant(scale_mul->operand(i)) && defined_by(scale_mul->operand(1 - i), "matmul")) {
        scale_value = scale_mul->operand(i);
        scores = scale_mul->operand(1 - i)->defining_op();
      }
    if (scores) scale = *splat_constant(scale_value);
  } else {
    scores = defined_by(select->operand(1), "matmul");
  }
  if (!scores || scores->attr_bool("transpose_a") || !scores->attr_bool("transpose_b")) {
    rw.refuse(probs, "the scores are not matmul(q, k, transpose_b) times a constant scale");
    return false;
  }
  Op* mixed = rw.user_of_kind(probs, "matmul", [&](const Op& m) { return m.operand(0) == probs; });
  if (!mixed || mixed->attr_bool("transpose_a") || mixed->attr_bool("transpose_b")) {
    rw.refuse(probs, "the probabilities are not multiplied by v in one matmul without transposes");
    return false;
  }
  std::optional<Heads> heads = strip_grouping(scores->operand(0), scores->operand(1), mixed->operand(1));
  if (!heads) {
    rw.refuse(probs, "q, k and v are not [H, n, hd], [K, t, hd], [K, t, dv] grouped as [K, G, n, hd] and [K, 1, t, d]");
    return false;
  }
  const Shape scores_nt{heads->q->shape()[1], heads->k->shape()[1]};
  const auto mask_fits = broadcast_shapes(scores_nt, mask->shape());
  if (mask->dtype() != DType::boolean || mask->rank() > 2 || !mask_fits || *mask_fits != scores_nt) {
    rw.refuse(probs, fmt::format("the mask {} is not one bool [n, t] mask shared by all heads", mask->type().str()));
    return false;
  }

  // The result: the reshape back to [H, n, dv] when there is exactly that one.
  Value* result = mixed->result(0);
  Op* root = mixed;
  Op* flatten = rw.single_user(result);
  const Shape want{heads->q->shape()[0], heads->q->shape()[1], heads->v->shape()[2]};
  if (!heads->reshapes.empty() && flatten && flatten->name() == "reshape" && flatten->result(0)->shape() == want) {
    root = flatten;
    result = flatten->result(0);
  }

  std::vector<Op*> pattern = heads->reshapes;
  for (Op* op : {scores, scale_mul, select, select->operand(2)->defining_op(), softmax, mixed, root})
    if (op) pattern.push_back(op);
  if (scale_value) pattern.push_back(scale_value->defining_op());
  std::vector<Op*> inner = heads->reshapes;
  for (Op* op : {scores, scale_mul, select, softmax})
    if (op) inner.push_back(op);
  if (root != mixed) inner.push_back(mixed);
  for (const Op* op : inner)
    if (!rw.used_only_by(op->result(0), pattern)) {
      rw.refuse(probs, fmt::format("{} ({}) is also used outside the pattern", rw.name(op->result(0)), op->name()));
      return false;
    }

  Expected<Op*> fused = rw.insert_before(root, "attention", {heads->q, heads->k, heads->v, mask},
                                         {{"scale", scale}, {"mask_value", *fill}});
  if (!fused.ok()) {
    rw.refuse(probs, fused.error().message);
    return false;
  }
  Value* replacement = (*fused)->result(0);
  if (replacement->shape() != result->shape()) {  // keep the grouped [K, G, n, dv] its users expect
    Expected<Op*> back = rw.insert_before(root, "reshape", {replacement}, {{"shape", result->shape()}});
    if (!back.ok()) throw GraphcError("fuse-attention: " + back.error().message);
    replacement = (*back)->result(0);
  }
  rw.replace(result, replacement, pattern);
  return true;
}

class FuseAttention : public Pass {
 public:
  std::string name() const override { return "fuse-attention"; }
  std::string summary() const override {
    return "softmax(select(mask, q k^T * scale, fill)) v with GQA reshapes -> attention(q, k, v, mask) {scale}";
  }
  Expected<bool> run(Module& module, PassStats& stats) override {
    return for_each_function(name(), module, stats, [](FusionRewriter& rw) {
      for (Block* block : rw.blocks())
        for (Op* op : FusionRewriter::snapshot(*block))
          if (!rw.is_removed(op) && op->name() == "softmax") fuse_at(rw, op);
    });
  }
};

}  // namespace

std::unique_ptr<Pass> create_fuse_attention(const PassOptions& options) {
  options.expect_only({});
  return std::make_unique<FuseAttention>();
}

}  // namespace graphc
