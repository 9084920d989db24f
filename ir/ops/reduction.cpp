// Reductions and ops that work along one axis: reduce (sum, mean, max),
// softmax, argmax, topk and cumsum. Type inference checks the axes against the
// operand's rank and says which axis or attribute is wrong for which shape.
// Semantics (backends/reference/reduction_kernels.cpp): floating-point data is
// accumulated in double; integer sums wrap like the elementwise integer ops.
#include <fmt/format.h>

#include <set>

#include "ir/op.h"
#include "ir/op_registry.h"

namespace graphc {
namespace {

using Types = Expected<std::vector<TensorType>>;

Expected<int64_t> int_attr(const Op& op, const std::string& name) {
  const Attribute& a = op.attr(name);
  if (a.kind() != AttrKind::Int)
    return infer_error(fmt::format("attribute '{}' must be an integer, got {}", name, a.str()));
  return a.as_int();
}

// The normalised axis named by an Int attribute, or what is wrong with it.
Expected<int> axis_attr(const Op& op, const std::string& name, const TensorType& x) {
  auto axis = int_attr(op, name);
  if (!axis.ok()) return axis.error();
  if (x.rank() == 0) return infer_error(fmt::format("{} {} of a scalar {}: there is no axis", name, *axis, x.str()));
  auto a = normalize_axis(*axis, x.rank());
  if (!a)
    return infer_error(fmt::format("{} {} is out of range for {} (rank {})", name, *axis, x.str(), x.rank()));
  return *a;
}

Error needs_numeric(const TensorType& x) { return infer_error("expects a numeric operand, got " + x.str()); }

Types infer_reduce(const Op& op) {
  const TensorType& x = op.operand(0)->type();
  const Attribute& kind_attr = op.attr("kind");
  if (kind_attr.kind() != AttrKind::String)
    return infer_error("attribute 'kind' must be a string, got " + kind_attr.str());
  const std::string& kind = kind_attr.as_string();
  if (kind != "sum" && kind != "mean" && kind != "max")
    return infer_error(fmt::format("unknown kind \"{}\" (expected sum, mean or max)", kind));
  if (kind == "mean" && !is_floating(x.dtype))
    return infer_error("mean expects a floating-point operand, got " + x.str());
  if (x.dtype == DType::boolean) return needs_numeric(x);

  const Attribute& axes_attr = op.attr("axes");
  if (axes_attr.kind() != AttrKind::Dims)
    return infer_error("attribute 'axes' must be a list of integers, got " + axes_attr.str());
  const std::vector<Dim>& axes = axes_attr.as_dims();
  if (axes.empty()) return infer_error(fmt::format("axes must not be empty (reducing {})", x.str()));
  const Attribute& keep_attr = op.attr("keepdims");
  if (keep_attr.kind() != AttrKind::Bool)
    return infer_error("attribute 'keepdims' must be true or false, got " + keep_attr.str());

  std::set<int> reduced;
  for (const Dim& d : axes) {
    if (d.is_symbolic())
      return infer_error(fmt::format("axes {} must be integers, found '{}'", axes_attr.str(), d.symbol));
    auto a = normalize_axis(d.value, x.rank());
    if (!a)
      return infer_error(fmt::format("axis {} in {} is out of range for {} (rank {})", d.value, axes_attr.str(),
                                     x.str(), x.rank()));
    if (!reduced.insert(*a).second)
      return infer_error(fmt::format("axes {} name axis {} of {} twice", axes_attr.str(), *a, x.str()));
  }
  Shape out;
  for (int i = 0; i < x.rank(); ++i) {
    if (!reduced.count(i)) out.push_back(x.shape[i]);
    else if (keep_attr.as_bool()) out.push_back(Dim(1));
  }
  return std::vector<TensorType>{TensorType(x.dtype, out)};
}

Types infer_softmax(const Op& op) {
  const TensorType& x = op.operand(0)->type();
  if (!is_floating(x.dtype)) return infer_error("expects a floating-point operand, got " + x.str());
  auto axis = axis_attr(op, "axis", x);
  if (!axis.ok()) return axis.error();
  return std::vector<TensorType>{x};
}

Types infer_argmax(const Op& op) {
  const TensorType& x = op.operand(0)->type();
  auto axis = axis_attr(op, "axis", x);
  if (!axis.ok()) return axis.error();
  const Dim& n = x.shape[*axis];
  if (n.is_static() && n.value == 0)
    return infer_error(fmt::format("axis {} of {} is empty: there is no maximum", *axis, x.str()));
  Shape out = x.shape;
  out.erase(out.begin() + *axis);
  return std::vector<TensorType>{TensorType(DType::i32, out)};
}

Types infer_topk(const Op& op) {
  const TensorType& x = op.operand(0)->type();
  if (x.dtype == DType::boolean) return needs_numeric(x);
  if (x.rank() == 0) return infer_error("expects an operand of rank >= 1, got the scalar " + x.str());
  auto k = int_attr(op, "k");
  if (!k.ok()) return k.error();
  const Dim& last = x.shape.back();
  if (last.is_symbolic())
    return infer_error(fmt::format("the last dim of {} must be static, it is '{}'", x.str(), last.symbol));
  if (*k < 1 || *k > last.value)
    return infer_error(fmt::format("k = {} is out of range for {}: expected 1 <= k <= {}", *k, x.str(), last.value));
  Shape out = x.shape;
  out.back() = Dim(*k);
  return std::vector<TensorType>{TensorType(x.dtype, out), TensorType(DType::i32, out)};
}

Types infer_cumsum(const Op& op) {
  const TensorType& x = op.operand(0)->type();
  if (x.dtype == DType::boolean) return needs_numeric(x);
  auto axis = axis_attr(op, "axis", x);
  if (!axis.ok()) return axis.error();
  return std::vector<TensorType>{x};
}

}  // namespace

void register_reduction_ops(OpRegistry& r) {
  r.add(OpDef{
      .name = "reduce",
      .summary = "sum, mean or max over the given axes",
      .min_operands = 1,
      .max_operands = 1,
      .attrs = {{"kind", AttrKind::String, std::nullopt,
                 "sum, mean or max; mean needs a floating-point operand, max propagates NaN"},
                {"axes", AttrKind::Dims, std::nullopt, "axes to reduce: distinct, non-empty, negative counts from the end"},
                {"keepdims", AttrKind::Bool, Attribute(false), "keep each reduced axis as a dim of 1"}},
      .infer = infer_reduce});

  r.add(OpDef{
      .name = "softmax",
      .summary = "exp(x - max) / sum(exp(x - max)) along one axis",
      .min_operands = 1,
      .max_operands = 1,
      .attrs = {{"axis", AttrKind::Int, Attribute(int64_t{-1}), "the axis to normalise; negative counts from the end"}},
      .infer = infer_softmax});

  r.add(OpDef{
      .name = "argmax",
      .summary = "index (i32) of the largest element along one axis, which is removed",
      .min_operands = 1,
      .max_operands = 1,
      .attrs = {{"axis", AttrKind::Int, Attribute(int64_t{-1}),
                 "the axis to search; negative counts from the end. Ties go to the first index; NaN is largest"}},
      .infer = infer_argmax});

  r.add(OpDef{
      .name = "topk",
      .summary = "the k largest elements along the last axis, descending, and their indices (i32)",
      .min_operands = 1,
      .max_operands = 1,
      .attrs = {{"k", AttrKind::Int, std::nullopt,
                 "how many: 1 <= k <= the last dim, which must be static. Ties go to the lower index; NaN is largest"}},
      .infer = infer_topk});

  r.add(OpDef{
      .name = "cumsum",
      .summary = "inclusive prefix sum along one axis",
      .min_operands = 1,
      .max_operands = 1,
      .attrs = {{"axis", AttrKind::Int, std::nullopt, "the axis to sum along; negative counts from the end"}},
      .infer = infer_cumsum});
}

}  // namespace graphc
