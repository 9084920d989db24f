// fuse-rope: replaces the half-split rotary embedding of graphs/layers.cpp
// apply_rope (slices, four products, a difference, a sum and a concat) by one
// rope op.
//
// Matches, with the operands of each mul and of the add in either order:
//
//        x ─┬─► slice(x, [..., 0 : hd/2])  ─► x1
//           └─► slice(x, [..., hd/2 : hd]) ─► x2
//
//   mul(x1, cos) ─┐                      mul(x2, cos) ─┐
//                 ├─► sub ─┐                           ├─► add ─┐
//   mul(x2, sin) ─┘        │             mul(x1, sin) ─┘        │
//                          └────► concat(·, ·, axis = last) ◄───┘ ─► y
//
//   y = [x1 cos - x2 sin, x2 cos + x1 sin]
//
// and rewrites it to y = rope(x, cos, sin). x is [..., hd] with hd static and
// even; cos and sin broadcast to [..., hd/2] (Gemma: x [n, heads, hd], tables
// [n, 1, hd/2]).
//
// Guarantees: rope computes the same four products, difference and sum with
// the same roundings (backends/reference/fused_kernels.cpp), so results are
// bit-identical on the reference interpreter. The replaced ops are removed.
//
// Refuses, with a remark naming the concat's value, when the concat of a
// difference and a sum of products of slices is not this rotation: the
// slices are not the two halves of the last axis of one x (or are strided),
// the products do not pair x1 and x2 with the same cos and sin as drawn, the
// tables do not broadcast to the half of x, or an intermediate has a user
// outside the pattern. A concat that does not have that shape passes silently.
#include <fmt/format.h>

#include "passes/fusion_pattern.h"

namespace graphc {
namespace {

// mul(a, b) or mul(b, a).
bool is_product_of(const Op* op, const Value* a, const Value* b) {
  return op && op->name() == "mul" &&
         ((op->operand(0) == a && op->operand(1) == b) || (op->operand(0) == b && op->operand(1) == a));
}

// Whether `slice` takes [0 : half] (first) or [half : hd] (second) of the last
// axis of its operand, whole along every other axis, with stride 1.
bool is_half(const Op* slice, bool second) {
  const Value* x = slice->operand(0);
  const Shape& s = x->shape();
  if (s.empty() || !s.back().is_static() || s.back().value % 2 != 0) return false;
  const int64_t half = s.back().value / 2;
  const std::vector<Dim>& start = slice->attr("start").as_dims();
  const std::vector<Dim>& limit = slice->attr("limit").as_dims();
  const std::vector<Dim>& stride = slice->attr("stride").as_dims();
  if (start.size() != s.size() || limit.size() != s.size()) return false;
  for (const Dim& d : stride)
    if (!(d == Dim(1))) return false;
  for (size_t d = 0; d + 1 < s.size(); ++d)
    if (!(start[d] == Dim(0)) || !(limit[d] == s[d])) return false;
  return second ? start.back() == Dim(half) && limit.back() == s.back()
                : start.back() == Dim(0) && limit.back() == Dim(half);
}

struct Rope {
  Value *x1 = nullptr, *x2 = nullptr, *cos = nullptr, *sin = nullptr;
  Op *p = nullptr, *q = nullptr, *r = nullptr, *s = nullptr;  // x1 cos, x2 sin, x2 cos, x1 sin
};

// Assigns the operands of the four products: sub = x1 cos - x2 sin,
// add = x2 cos + x1 sin, with x1 and x2 defined by slices.
bool pair_products(Op* sub, Op* add, Rope& r) {
  Op* p = defined_by(sub->operand(0), "mul");
  Op* q = defined_by(sub->operand(1), "mul");
  if (!p || !q) return false;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) {
      Value *x1 = p->operand(i), *cos = p->operand(1 - i);
      Value *x2 = q->operand(j), *sin = q->operand(1 - j);
      if (!defined_by(x1, "slice") || !defined_by(x2, "slice")) continue;
      for (int k = 0; k < 2; ++k) {
        Op* rr = add->operand(k)->defining_op();
        Op* ss = add->operand(1 - k)->defining_op();
        if (is_product_of(rr, x2, cos) && is_product_of(ss, x1, sin)) {
          r = Rope{x1, x2, cos, sin, p, q, rr, ss};
          return true;
        }
      }
    }
  return false;
}

bool any_slice_operand(const Op* mul) {
  return mul && mul->name() == "mul" && (defined_by(mul->operand(0), "slice") || defined_by(mul->operand(1), "slice"));
}

bool fuse_at(FusionRewriter& rw, Op* concat) {
  if (concat->num_operands() != 2 || !is_last_axis(concat->attr_int("axis"), concat->result(0)->rank())) return false;
  Op* sub = defined_by(concat->operand(0), "sub");
  Op* add = defined_by(concat->operand(1), "add");
  if (!sub || !add) return false;
  Value* y = concat->result(0);
  Rope r;
  if (!pair_products(sub, add, r)) {
    if (any_slice_operand(defined_by(sub->operand(0), "mul")) || any_slice_operand(defined_by(sub->operand(1), "mul")))
      rw.refuse(y, "the products do not pair x1 and x2 with one cos and one sin as x1 cos - x2 sin, x2 cos + x1 sin");
    return false;
  }
  Op* first = r.x1->defining_op();
  Op* second = r.x2->defining_op();
  Value* x = first->operand(0);
  if (second->operand(0) != x || !is_half(first, false) || !is_half(second, true) || y->type() != x->type()) {
    rw.refuse(y, "x1 and x2 are not the first and second halves of the last axis of one tensor");
    return false;
  }
  const std::vector<Op*> pattern{first, second, r.p, r.q, r.r, r.s, sub, add, concat};
  for (const Op* inner : {first, second, r.p, r.q, r.r, r.s, sub, add})
    if (!rw.used_only_by(inner->result(0), pattern)) {
      rw.refuse(y, fmt::format("{} ({}) is also used outside the pattern", rw.name(inner->result(0)), inner->name()));
      return false;
    }
  Expected<Op*> fused = rw.insert_before(concat, "rope", {x, r.cos, r.sin});
  if (!fused.ok()) {
    rw.refuse(y, fused.error().message);
    return false;
  }
  rw.replace(y, (*fused)->result(0), pattern);
  return true;
}

class FuseRope : public Pass {
 public:
  std::string name() const override { return "fuse-rope"; }
  std::string summary() const override { return "[x1 cos - x2 sin, x2 cos + x1 sin] over halves of x -> rope(x, cos, sin)"; }
  Expected<bool> run(Module& module, PassStats& stats) override {
    return for_each_function(name(), module, stats, [](FusionRewriter& rw) {
      for (Block* block : rw.blocks())
        for (Op* op : FusionRewriter::snapshot(*block))
          if (!rw.is_removed(op) && op->name() == "concat") fuse_at(rw, op);
    });
  }
};

}  // namespace

std::unique_ptr<Pass> create_fuse_rope(const PassOptions& options) {
  options.expect_only({});
  return std::make_unique<FuseRope>();
}

}  // namespace graphc
