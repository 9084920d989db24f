// Gradient rules of the reductions (ir/ops/reduction.cpp): reduce (sum, mean,
// max), softmax and cumsum.
#include "ir/op_registry.h"
#include "passes/gradient_rules.h"

namespace graphc {
namespace {

using Grads = std::vector<Val>;

std::vector<int64_t> reduced_axes(const Op& op, int rank) {
  std::vector<int64_t> axes;
  for (int64_t a : op.attr_ints("axes")) axes.push_back(*normalize_axis(a, rank));
  return axes;
}

// The reduce's result (or its gradient) with the reduced dims back as 1s, so
// that it broadcasts against the operand.
Val with_kept_dims(Builder& b, Val y, const Shape& operand, const std::vector<int64_t>& axes, bool keepdims) {
  if (keepdims) return y;
  Shape kept = operand;
  for (int64_t a : axes) kept[a] = Dim(1);
  return b.reshape(y, kept);
}

}  // namespace

void register_reduction_gradients(GradientRules& r) {
  r.add("reduce", [](const GradientContext& c) -> Grads {
    if (!c.needed(0)) return {Val{}};
    Builder& b = c.b;
    Val x = c.operands[0];
    const Shape& shape = x.shape();
    const std::vector<int64_t> axes = reduced_axes(c.op, x.type().rank());
    const bool keepdims = c.op.attr_bool("keepdims");
    const std::string& kind = c.op.attr_string("kind");
    Val g = with_kept_dims(b, c.grad(), shape, axes, keepdims);
    if (kind == "sum") return {b.broadcast(g, shape)};
    if (kind == "mean") {
      int64_t n = 1;
      for (int64_t a : axes) {
        if (!shape[a].is_static()) throw GraphcError("autodiff: mean over a symbolic axis");
        n *= shape[a].value;
      }
      return {b.broadcast(g / c.scalar(double(n), g), shape)};
    }
    // max: the gradient is shared by the elements equal to the maximum.
    Val y = with_kept_dims(b, c.results[0], shape, axes, keepdims);
    Val is_max = b.compare(x, "eq", y);
    Val count = b.sum(b.cast(is_max, x.type().dtype), axes, /*keepdims=*/true);
    return {b.select(is_max, b.broadcast(g / count, shape), c.scalar(0, x))};
  });
  // y = softmax(x): dx = y (g - sum(g y)) along the axis.
  r.add("softmax", [](const GradientContext& c) -> Grads {
    if (!c.needed(0)) return {Val{}};
    Val y = c.results[0];
    Val g = c.grad();
    const int64_t axis = c.op.attr_int("axis");
    Val dot = c.b.sum(g * y, {axis}, /*keepdims=*/true);
    return {y * (g - dot)};
  });
  // y_i = sum_{j <= i} x_j: dx_i = sum_{j >= i} g_j = total - cumsum(g)_i + g_i.
  r.add("cumsum", [](const GradientContext& c) -> Grads {
    if (!c.needed(0)) return {Val{}};
    Val g = c.grad();
    const int64_t axis = c.op.attr_int("axis");
    Val total = c.b.sum(g, {axis}, /*keepdims=*/true);
    return {total - c.b.cumsum(g, axis) + g};
  });
}

}  // namespace graphc
