// Elementwise ops: unary math, binary arithmetic with numpy-style
// broadcasting, compare, select and cast.
#include "ir/op.h"
#include "ir/op_registry.h"

namespace graphc {
namespace {

Expected<std::vector<TensorType>> infer_unary_float(const Op& op) {
  const TensorType& t = op.operand(0)->type();
  if (!is_floating(t.dtype)) return infer_error("expects a floating-point operand, got " + t.str());
  return std::vector<TensorType>{t};
}

Expected<std::vector<TensorType>> infer_unary_numeric(const Op& op) {
  const TensorType& t = op.operand(0)->type();
  if (t.dtype == DType::boolean) return infer_error("expects a numeric operand, got " + t.str());
  return std::vector<TensorType>{t};
}

Expected<Shape> broadcast_operands(const Op& op) {
  Shape s = op.operand(0)->shape();
  for (int i = 1; i < op.num_operands(); ++i) {
    auto b = broadcast_shapes(s, op.operand(i)->shape());
    if (!b) return infer_error("shapes do not broadcast: " + shape_str(s) + " and " +
                               shape_str(op.operand(i)->shape()));
    s = *b;
  }
  return s;
}

Expected<std::vector<TensorType>> infer_binary(const Op& op, bool float_only) {
  const TensorType& a = op.operand(0)->type();
  const TensorType& b = op.operand(1)->type();
  if (a.dtype != b.dtype) return infer_error("operand dtypes differ: " + a.str() + " and " + b.str());
  if (float_only && !is_floating(a.dtype)) return infer_error("expects floating-point operands, got " + a.str());
  if (a.dtype == DType::boolean) return infer_error("expects numeric operands, got " + a.str());
  auto s = broadcast_operands(op);
  if (!s.ok()) return s.error();
  return std::vector<TensorType>{TensorType(a.dtype, *s)};
}

void add_unary(OpRegistry& r, const char* name, const char* summary, bool float_only = true) {
  r.add(OpDef{.name = name, .summary = summary, .min_operands = 1, .max_operands = 1,
              .is_elementwise = true,
              .infer = float_only ? InferFn(infer_unary_float) : InferFn(infer_unary_numeric)});
}

void add_binary(OpRegistry& r, const char* name, const char* summary, bool float_only = false) {
  r.add(OpDef{.name = name, .summary = summary, .min_operands = 2, .max_operands = 2,
              .is_elementwise = true,
              .infer = [float_only](const Op& op) { return infer_binary(op, float_only); }});
}

}  // namespace

const char* const kComparePredicates[] = {"eq", "ne", "lt", "le", "gt", "ge"};

void register_elementwise_ops(OpRegistry& r) {
  add_unary(r, "neg", "-x", /*float_only=*/false);
  add_unary(r, "abs", "|x|", /*float_only=*/false);
  add_unary(r, "exp", "e^x");
  add_unary(r, "log", "natural logarithm");
  add_unary(r, "tanh", "hyperbolic tangent");
  add_unary(r, "sqrt", "square root");
  add_unary(r, "rsqrt", "1 / sqrt(x)");
  add_unary(r, "sin", "sine (radians)");
  add_unary(r, "cos", "cosine (radians)");

  add_binary(r, "add", "a + b");
  add_binary(r, "sub", "a - b");
  add_binary(r, "mul", "a * b");
  add_binary(r, "div", "a / b (integers: truncated toward zero)");
  add_binary(r, "max", "elementwise maximum");
  add_binary(r, "min", "elementwise minimum");
  add_binary(r, "pow", "a ^ b", /*float_only=*/true);

  r.add(OpDef{
      .name = "compare",
      .summary = "a <predicate> b -> bool, broadcasting",
      .min_operands = 2,
      .max_operands = 2,
      .attrs = {{"predicate", AttrKind::String, std::nullopt, "eq, ne, lt, le, gt or ge"}},
      .is_elementwise = true,
      .infer = [](const Op& op) -> Expected<std::vector<TensorType>> {
        const std::string& p = op.attr_string("predicate");
        bool known = false;
        for (const char* k : kComparePredicates) known |= p == k;
        if (!known) return infer_error("unknown predicate \"" + p + "\" (expected eq, ne, lt, le, gt or ge)");
        const TensorType& a = op.operand(0)->type();
        const TensorType& b = op.operand(1)->type();
        if (a.dtype != b.dtype) return infer_error("operand dtypes differ: " + a.str() + " and " + b.str());
        auto s = broadcast_operands(op);
        if (!s.ok()) return s.error();
        return std::vector<TensorType>{TensorType(DType::boolean, *s)};
      }});

  r.add(OpDef{
      .name = "select",
      .summary = "cond ? a : b, broadcasting",
      .min_operands = 3,
      .max_operands = 3,
      .is_elementwise = true,
      .infer = [](const Op& op) -> Expected<std::vector<TensorType>> {
        const TensorType& c = op.operand(0)->type();
        const TensorType& a = op.operand(1)->type();
        const TensorType& b = op.operand(2)->type();
        if (c.dtype != DType::boolean) return infer_error("condition must be bool, got " + c.str());
        if (a.dtype != b.dtype) return infer_error("branch dtypes differ: " + a.str() + " and " + b.str());
        auto s = broadcast_operands(op);
        if (!s.ok()) return s.error();
        return std::vector<TensorType>{TensorType(a.dtype, *s)};
      }});

  r.add(OpDef{
      .name = "cast",
      .summary = "converts to another dtype (float to int truncates toward zero)",
      .min_operands = 1,
      .max_operands = 1,
      .attrs = {{"to", AttrKind::Type, std::nullopt, "target dtype"}},
      .is_elementwise = true,
      .infer = [](const Op& op) -> Expected<std::vector<TensorType>> {
        return std::vector<TensorType>{TensorType(op.attr("to").as_type(), op.operand(0)->shape())};
      }});
}

}  // namespace graphc
