// Generators: ops that make a tensor from attributes (constant, iota) or from
// a seed (random_uniform). random_uniform is counter-based: each element is a
// pure function of the seed and its flat index, so a backend may compute any
// range of elements independently. The exact formula, which every backend must
// reproduce bit for bit, is in backends/reference/generator_kernels.cpp.
#include <fmt/format.h>

#include <cstdint>
#include <limits>

#include "ir/op.h"
#include "ir/op_registry.h"

namespace graphc {
namespace {

using Types = Expected<std::vector<TensorType>>;

Expected<DType> dtype_attr(const Op& op, const std::string& name) {
  const Attribute& a = op.attr(name);
  if (a.kind() != AttrKind::Type)
    return infer_error(fmt::format("attribute '{}' must be a dtype, got {}", name, a.str()));
  return a.as_type();
}

// A shape attribute; symbolic dims allowed unless `require_static`.
Expected<Shape> shape_attr(const Op& op, const std::string& name, bool require_static) {
  const Attribute& a = op.attr(name);
  if (a.kind() != AttrKind::Dims)
    return infer_error(fmt::format("attribute '{}' must be a list of dims, got {}", name, a.str()));
  const std::string text = shape_str(a.as_dims());
  for (const Dim& d : a.as_dims()) {
    if (d.is_symbolic() && require_static)
      return infer_error(fmt::format("{} {} must be static, found '{}'", name, text, d.symbol));
    if (d.is_static() && d.value < 0) return infer_error(fmt::format("{} {} has a negative dim", name, text));
  }
  return a.as_dims();
}

// Whether an integer fits an integer or bool dtype without wrapping.
bool fits(int64_t v, DType t) {
  if (t == DType::boolean) return v == 0 || v == 1;
  if (t == DType::i32) return v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max();
  return true;
}

// Checks a constant's value against its dtype and element count.
Expected<bool> check_constant_value(const Attribute& value, DType t, int64_t count) {
  const std::string type = std::string(dtype_name(t));
  const auto check_ints = [&](const std::vector<int64_t>& vs) -> Expected<bool> {
    if (is_floating(t)) return true;
    for (int64_t v : vs)
      if (!fits(v, t)) return infer_error(fmt::format("value {} does not fit {}", v, type));
    return true;
  };
  const auto check_length = [&](size_t n) -> Expected<bool> {
    if (static_cast<int64_t>(n) != count)
      return infer_error(fmt::format("value has {} elements, the shape has {}", n, count));
    return true;
  };
  switch (value.kind()) {
    case AttrKind::Int:
      return check_ints({value.as_int()});
    case AttrKind::Float:
      if (!is_floating(t))
        return infer_error(fmt::format("value {} is a float but dtype is {} (write an integer)", value.str(), type));
      return true;
    case AttrKind::Floats:
      if (!is_floating(t))
        return infer_error(fmt::format("a list of floats is not a value of dtype {} (write integers)", type));
      return check_length(value.as_floats().size());
    case AttrKind::Dims: {
      for (const Dim& d : value.as_dims())
        if (d.is_symbolic()) return infer_error(fmt::format("value must be numbers, found '{}'", d.symbol));
      auto length = check_length(value.as_dims().size());
      if (!length.ok()) return length;
      return check_ints(value.as_ints());
    }
    default:
      return infer_error("value must be a number or a list of numbers, got " + value.str());
  }
}

Types infer_constant(const Op& op) {
  auto t = dtype_attr(op, "dtype");
  if (!t.ok()) return t.error();
  auto shape = shape_attr(op, "shape", /*require_static=*/true);
  if (!shape.ok()) return shape.error();
  auto ok = check_constant_value(op.attr("value"), *t, *num_elements(*shape));
  if (!ok.ok()) return ok.error();
  return std::vector<TensorType>{TensorType(*t, *shape)};
}

Types infer_iota(const Op& op) {
  auto t = dtype_attr(op, "dtype");
  if (!t.ok()) return t.error();
  if (*t == DType::boolean) return infer_error("dtype must be numeric, got bool");
  auto shape = shape_attr(op, "shape", /*require_static=*/false);
  if (!shape.ok()) return shape.error();
  const Attribute& axis = op.attr("axis");
  if (axis.kind() != AttrKind::Int) return infer_error("attribute 'axis' must be an integer, got " + axis.str());
  const int rank = static_cast<int>(shape->size());
  if (!normalize_axis(axis.as_int(), rank))
    return infer_error(fmt::format("axis {} is out of range for shape {} (rank {})", axis.as_int(),
                                   shape_str(*shape), rank));
  return std::vector<TensorType>{TensorType(*t, *shape)};
}

Types infer_random_uniform(const Op& op) {
  const TensorType& seed = op.operand(0)->type();
  if (seed.dtype != DType::i64 || seed.rank() != 0) return infer_error("seed must be i64[], got " + seed.str());
  auto t = dtype_attr(op, "dtype");
  if (!t.ok()) return t.error();
  if (!is_floating(*t)) return infer_error(fmt::format("dtype must be floating-point, got {}", dtype_name(*t)));
  auto shape = shape_attr(op, "shape", /*require_static=*/false);
  if (!shape.ok()) return shape.error();
  return std::vector<TensorType>{TensorType(*t, *shape), TensorType(DType::i64, {})};
}

}  // namespace

void register_generator_ops(OpRegistry& r) {
  r.add(OpDef{
      .name = "constant",
      .summary = "a tensor given by its attributes",
      .attrs = {{"dtype", AttrKind::Type, std::nullopt, "element type"},
                {"shape", AttrKind::Dims, std::nullopt, "static shape"},
                {"value", AttrKind::Float, std::nullopt,
                 "a splat (an integer, or a float for floating dtypes) or every element in row-major order: "
                 "floats for floating dtypes, integers for integer and bool dtypes",
                 /*any_kind=*/true}},
      .infer = infer_constant});

  r.add(OpDef{
      .name = "iota",
      .summary = "each element is its index along one axis",
      .attrs = {{"shape", AttrKind::Dims, std::nullopt, "result shape; may be symbolic"},
                {"axis", AttrKind::Int, std::nullopt, "the axis whose index is the value; negative counts from the end"},
                {"dtype", AttrKind::Type, Attribute(DType::i32), "numeric element type"}},
      .infer = infer_iota});

  r.add(OpDef{
      .name = "random_uniform",
      .summary = "uniform values in [0, 1) from an i64 seed, and the next seed",
      .min_operands = 1,
      .max_operands = 1,
      .attrs = {{"shape", AttrKind::Dims, std::nullopt, "shape of the values; may be symbolic"},
                {"dtype", AttrKind::Type, Attribute(DType::f32), "floating-point element type of the values"}},
      .infer = infer_random_uniform});
}

}  // namespace graphc
