// Gradient rules of the elementwise ops (ir/ops/elementwise.cpp). Binary ops
// broadcast their operands, so each operand's gradient is summed back to its
// shape (unbroadcast). y denotes the op's result, g its gradient.
#include "passes/gradient_rules.h"

namespace graphc {
namespace {

using Grads = std::vector<Val>;

// A rule for a unary op: dx = f(context).
template <typename F>
GradientRule unary(F f) {
  return [f](const GradientContext& c) -> Grads { return {c.needed(0) ? f(c) : Val{}}; };
}

// A rule for a binary op from the two gradients before unbroadcasting.
template <typename FA, typename FB>
GradientRule binary(FA fa, FB fb) {
  return [fa, fb](const GradientContext& c) -> Grads {
    Grads out(2);
    if (c.needed(0)) out[0] = unbroadcast(c.b, fa(c), c.operands[0].shape());
    if (c.needed(1)) out[1] = unbroadcast(c.b, fb(c), c.operands[1].shape());
    return out;
  };
}

// max / min: the gradient of the operand the result came from, a where
// `a predicate b` holds, b elsewhere.
GradientRule pick_by(const char* predicate) {
  auto from_a = [predicate](const GradientContext& c, bool a) {
    Val g = c.grad();
    Val took_a = c.b.compare(c.operands[0], predicate, c.operands[1]);
    return a ? c.b.select(took_a, g, c.scalar(0, g)) : c.b.select(took_a, c.scalar(0, g), g);
  };
  return binary([from_a](const GradientContext& c) { return from_a(c, true); },
                [from_a](const GradientContext& c) { return from_a(c, false); });
}

}  // namespace

void register_elementwise_gradients(GradientRules& r) {
  r.add("neg", unary([](const GradientContext& c) { return -c.grad(); }));
  // d|x| = sign(x), taken as +1 at 0.
  r.add("abs", unary([](const GradientContext& c) {
          Val x = c.operands[0];
          return c.b.select(c.b.compare(x, "ge", c.scalar(0, x)), c.grad(), -c.grad());
        }));
  r.add("exp", unary([](const GradientContext& c) { return c.grad() * c.results[0]; }));
  r.add("log", unary([](const GradientContext& c) { return c.grad() / c.operands[0]; }));
  r.add("tanh", unary([](const GradientContext& c) {
          Val y = c.results[0];
          return c.grad() * (c.scalar(1, y) - y * y);
        }));
  // d sqrt(x) = 1 / (2 sqrt(x)); d x^-1/2 = -x^-3/2 / 2 = -y^3 / 2.
  r.add("sqrt", unary([](const GradientContext& c) {
          Val y = c.results[0];
          return c.grad() * c.scalar(0.5, y) / y;
        }));
  r.add("rsqrt", unary([](const GradientContext& c) {
          Val y = c.results[0];
          return c.grad() * c.scalar(-0.5, y) * (y * y * y);
        }));
  r.add("sin", unary([](const GradientContext& c) { return c.grad() * c.b.cos(c.operands[0]); }));
  r.add("cos", unary([](const GradientContext& c) { return -(c.grad() * c.b.sin(c.operands[0])); }));
  r.add("cast", [](const GradientContext& c) -> Grads {
    Val x = c.operands[0];
    if (!c.needed(0) || !is_floating(x.type().dtype)) return {Val{}};
    return {c.b.cast(c.grad(), x.type().dtype)};
  });

  r.add("add", binary([](const GradientContext& c) { return c.grad(); },
                      [](const GradientContext& c) { return c.grad(); }));
  r.add("sub", binary([](const GradientContext& c) { return c.grad(); },
                      [](const GradientContext& c) { return -c.grad(); }));
  r.add("mul", binary([](const GradientContext& c) { return c.grad() * c.operands[1]; },
                      [](const GradientContext& c) { return c.grad() * c.operands[0]; }));
  // y = a / b: dy/da = 1 / b, dy/db = -y / b.
  r.add("div", binary([](const GradientContext& c) { return c.grad() / c.operands[1]; },
                      [](const GradientContext& c) { return -(c.grad() * c.results[0] / c.operands[1]); }));
  // y = a^b: dy/da = b a^(b-1), dy/db = y ln a.
  r.add("pow", binary(
                   [](const GradientContext& c) {
                     Val a = c.operands[0], e = c.operands[1];
                     return c.grad() * e * c.b.pow(a, e - c.scalar(1, e));
                   },
                   [](const GradientContext& c) { return c.grad() * c.results[0] * c.b.log(c.operands[0]); }));
  // The reference's max picks a when a > b (or a is NaN), else b, and min a
  // when a < b; the gradient goes where the value came from, so ties go to b.
  r.add("max", pick_by("gt"));
  r.add("min", pick_by("lt"));
  // select(cond, a, b): the condition is not differentiable.
  r.add("select", [](const GradientContext& c) -> Grads {
    Grads out(3);
    Val g = c.grad();
    Val cond = c.operands[0];
    if (c.needed(1)) out[1] = unbroadcast(c.b, c.b.select(cond, g, c.scalar(0, g)), c.operands[1].shape());
    if (c.needed(2)) out[2] = unbroadcast(c.b, c.b.select(cond, c.scalar(0, g), g), c.operands[2].shape());
    return out;
  });
}

}  // namespace graphc
