// Linear algebra: matmul with numpy semantics for the batch dims.
//
//   a: [...a_batch, m, k]   (transpose_a: [...a_batch, k, m])
//   b: [...b_batch, k, n]   (transpose_b: [...b_batch, n, k])
//   result: [...broadcast(a_batch, b_batch), m, n]
//
// Batch dims are right-aligned and broadcast (a dim of 1 stretches), so
// [2,3,4] x [4,5] is [2,3,5]. Both operands have rank >= 2 and the same
// floating-point dtype. The reference accumulates in double.
#include <fmt/format.h>

#include "ir/op.h"
#include "ir/op_registry.h"

namespace graphc {
namespace {

using Types = Expected<std::vector<TensorType>>;

Expected<bool> bool_attr(const Op& op, const std::string& name) {
  const Attribute& a = op.attr(name);
  if (a.kind() != AttrKind::Bool)
    return infer_error(fmt::format("attribute '{}' must be true or false, got {}", name, a.str()));
  return a.as_bool();
}

// " with transpose_a", " with transpose_a and transpose_b" or "".
std::string transposes_str(bool ta, bool tb) {
  if (ta && tb) return " with transpose_a and transpose_b";
  if (ta) return " with transpose_a";
  if (tb) return " with transpose_b";
  return "";
}

Types infer_matmul(const Op& op) {
  const TensorType& a = op.operand(0)->type();
  const TensorType& b = op.operand(1)->type();
  auto ta = bool_attr(op, "transpose_a");
  if (!ta.ok()) return ta.error();
  auto tb = bool_attr(op, "transpose_b");
  if (!tb.ok()) return tb.error();
  if (a.dtype != b.dtype) return infer_error("operand dtypes differ: " + a.str() + " and " + b.str());
  if (!is_floating(a.dtype)) return infer_error("expects floating-point operands, got " + a.str() + " and " + b.str());
  if (a.rank() < 2 || b.rank() < 2)
    return infer_error(fmt::format("expects operands of rank >= 2, got {} x {}", a.str(), b.str()));

  const int ra = a.rank(), rb = b.rank();
  const Dim& m = *ta ? a.shape[ra - 1] : a.shape[ra - 2];
  const Dim& ka = *ta ? a.shape[ra - 2] : a.shape[ra - 1];
  const Dim& kb = *tb ? b.shape[rb - 1] : b.shape[rb - 2];
  const Dim& n = *tb ? b.shape[rb - 2] : b.shape[rb - 1];
  if (!(ka == kb))
    return infer_error(fmt::format("inner dims differ: {} x {}{}", shape_str(a.shape), shape_str(b.shape),
                                   transposes_str(*ta, *tb)));
  const Shape a_batch(a.shape.begin(), a.shape.end() - 2);
  const Shape b_batch(b.shape.begin(), b.shape.end() - 2);
  auto batch = broadcast_shapes(a_batch, b_batch);
  if (!batch)
    return infer_error(fmt::format("batch dims do not broadcast: {} x {} (batch {} and {})", shape_str(a.shape),
                                   shape_str(b.shape), shape_str(a_batch), shape_str(b_batch)));
  Shape out = *batch;
  out.push_back(m);
  out.push_back(n);
  return std::vector<TensorType>{TensorType(a.dtype, out)};
}

}  // namespace

void register_linalg_ops(OpRegistry& r) {
  r.add(OpDef{
      .name = "matmul",
      .summary = "batched matrix product; batch dims broadcast numpy-style",
      .min_operands = 2,
      .max_operands = 2,
      .attrs = {{"transpose_a", AttrKind::Bool, Attribute(false), "use a's last two axes swapped: a is [..., k, m]"},
                {"transpose_b", AttrKind::Bool, Attribute(false), "use b's last two axes swapped: b is [..., n, k]"}},
      .infer = infer_matmul});
}

}  // namespace graphc
