// Gradient rules of the data-movement ops (ir/ops/shape_ops.cpp): each moves
// the gradient back to where the elements came from. Elements an op drops
// (outside a slice, overwritten by an update) get zero gradient.
#include <fmt/format.h>

#include "ir/op_registry.h"
#include "passes/gradient_rules.h"

namespace graphc {
namespace {

using Grads = std::vector<Val>;

// Zeros of x's type with g written at scalar start indices: the gradient of a
// slice-like op that read the block at `starts`.
Val pad_into_zeros(const GradientContext& c, Val x, Val g, const std::vector<Val>& starts) {
  return c.b.dynamic_update_slice(c.zeros(x), g, starts);
}

std::vector<Val> index_constants(Builder& b, const std::vector<int64_t>& values) {
  std::vector<Val> out;
  for (int64_t v : values) out.push_back(b.scalar(double(v), DType::i64));
  return out;
}

}  // namespace

void register_shape_gradients(GradientRules& r) {
  r.add("reshape", [](const GradientContext& c) -> Grads {
    if (!c.needed(0)) return {Val{}};
    return {c.b.reshape(c.grad(), c.operands[0].shape())};
  });
  r.add("transpose", [](const GradientContext& c) -> Grads {
    if (!c.needed(0)) return {Val{}};
    const std::vector<int64_t> perm = c.op.attr_ints("perm");
    std::vector<int64_t> inverse(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = static_cast<int64_t>(i);
    return {c.b.transpose(c.grad(), inverse)};
  });
  r.add("broadcast", [](const GradientContext& c) -> Grads {
    if (!c.needed(0)) return {Val{}};
    return {unbroadcast(c.b, c.grad(), c.operands[0].shape())};
  });
  r.add("slice", [](const GradientContext& c) -> Grads {
    if (!c.needed(0)) return {Val{}};
    for (const Dim& s : c.op.attr("stride").as_dims())
      if (!s.is_static() || s.value != 1) throw GraphcError("autodiff: no gradient rule for a strided slice");
    const std::vector<int64_t> start = c.op.attr_ints("start");
    return {pad_into_zeros(c, c.operands[0], c.grad(), index_constants(c.b, start))};
  });
  r.add("concat", [](const GradientContext& c) -> Grads {
    Grads out(c.operands.size());
    Val g = c.grad();
    const int axis = *normalize_axis(c.op.attr_int("axis"), g.type().rank());
    int64_t offset = 0;
    for (size_t i = 0; i < c.operands.size(); ++i) {
      const Shape& s = c.operands[i].shape();
      const int64_t width = s[axis].value;  // concat axes are static
      if (c.needed(static_cast<int>(i))) {
        std::vector<int64_t> start(s.size(), 0);
        start[axis] = offset;
        Shape limit = s;
        limit[axis] = offset + width;
        out[i] = c.b.slice(g, start, limit);
      }
      offset += width;
    }
    return out;
  });
  // The starts are clamped the same way by both ops, so the gradient lands
  // exactly where the slice was read.
  r.add("dynamic_slice", [](const GradientContext& c) -> Grads {
    Grads out(c.operands.size());
    if (c.needed(0))
      out[0] = pad_into_zeros(c, c.operands[0], c.grad(), {c.operands.begin() + 1, c.operands.end()});
    return out;
  });
  r.add("dynamic_update_slice", [](const GradientContext& c) -> Grads {
    Grads out(c.operands.size());
    Val g = c.grad();
    Val update = c.operands[1];
    const std::vector<Val> starts(c.operands.begin() + 2, c.operands.end());
    if (c.needed(0)) out[0] = c.b.dynamic_update_slice(g, c.zeros(update), starts);
    if (c.needed(1)) out[1] = c.b.dynamic_slice(g, starts, to_static(update.shape()));
    return out;
  });
  r.add("gather", [](const GradientContext& c) -> Grads {
    Grads out(2);
    if (!c.needed(0)) return out;
    Val table = c.operands[0];
    if (*normalize_axis(c.op.attr_int("axis"), table.type().rank()) != 0)
      throw GraphcError("autodiff: the gradient of gather is defined along axis 0 only");
    out[0] = c.b.scatter_add(c.zeros(table), c.operands[1], c.grad());
    return out;
  });
  r.add("scatter_add", [](const GradientContext& c) -> Grads {
    Grads out(3);
    if (c.needed(0)) out[0] = c.grad();
    if (c.needed(2)) out[2] = c.b.gather(c.grad(), c.operands[1], 0);
    return out;
  });
}

}  // namespace graphc
