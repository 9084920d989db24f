// Fused ops: what the fusion passes (passes/fuse_*.cpp) put in place of the
// unfused patterns of graphs/layers.cpp and graphs/gemma3.cpp. Each computes
// exactly what its pattern computes: the same formula, evaluated in the same
// order, with every intermediate rounded to the tensor's dtype where the
// unfused op would round it and accumulated in double where the unfused
// reduction or matmul accumulates in double (backends/reference/fused_kernels.cpp
// is the definition). Constants that were f32[] constants in the pattern
// (eps, scale, the mask value) are attributes here and are rounded to the
// dtype before use, as the constant op rounded them.
//
//   rms_norm(x, w) {eps}         Gemma's RMSNorm over the last axis:
//                                x * rsqrt(mean(x^2) + eps) * (1 + w). Note the
//                                (1 + w): the stored weight is zero-centred.
//                                x [..., D], w [D] -> [..., D]
//   rope(x, cos, sin)            half-split rotary embedding: with x1, x2 the
//                                halves of the last axis,
//                                [x1 cos - x2 sin, x2 cos + x1 sin].
//                                x [..., hd], cos and sin broadcast to [..., hd/2]
//   attention(q, k, v, mask) {scale, mask_value}
//                                grouped-query attention: query head h uses KV
//                                head h / (H / K);
//                                softmax(select(mask, q k^T * scale, mask_value)) v.
//                                q [H, n, hd], k [K, t, hd], v [K, t, dv],
//                                mask bool broadcasting to [n, t] -> [H, n, dv]
//   geglu(h, w_gate, w_up)       gelu_tanh(h w_gate^T) * (h w_up^T), gelu_tanh
//                                as graphs/layers.h; the down projection stays
//                                a matmul. h [..., D], w_gate and w_up [F, D]
//                                -> [..., F]
//   fused_elementwise(xs...) {shape} { ^(scalars...): elementwise ops; yield s }
//                                the region applied to every element of the
//                                inputs broadcast to the result shape.
#include <fmt/format.h>

#include <algorithm>

#include "ir/op.h"
#include "ir/op_registry.h"

namespace graphc {
namespace {

using Types = Expected<std::vector<TensorType>>;

std::string types_of(const Op& op) {
  std::string out;
  for (int i = 0; i < op.num_operands(); ++i) out += (i ? ", " : "") + op.operand(i)->type().str();
  return out;
}

// All operands share one floating dtype.
Expected<DType> common_float_dtype(const Op& op, int first, int last) {
  const DType t = op.operand(first)->dtype();
  if (!is_floating(t)) return infer_error("expects floating-point operands, got " + types_of(op));
  for (int i = first + 1; i <= last; ++i)
    if (op.operand(i)->dtype() != t) return infer_error("operand dtypes differ: " + types_of(op));
  return t;
}

Types infer_rms_norm(const Op& op) {
  auto t = common_float_dtype(op, 0, 1);
  if (!t.ok()) return t.error();
  const TensorType& x = op.operand(0)->type();
  const TensorType& w = op.operand(1)->type();
  if (x.rank() < 1) return infer_error("x must have rank >= 1, got " + x.str());
  if (w.rank() != 1 || !(w.shape[0] == x.shape.back()))
    return infer_error(fmt::format("w must be [{}] (the last axis of x), got {}", x.shape.back().str(), w.str()));
  return std::vector<TensorType>{x};
}

Types infer_rope(const Op& op) {
  auto t = common_float_dtype(op, 0, 2);
  if (!t.ok()) return t.error();
  const TensorType& x = op.operand(0)->type();
  if (x.rank() < 1 || !x.shape.back().is_static() || x.shape.back().value % 2 != 0)
    return infer_error("x must have a static, even last axis, got " + x.str());
  Shape half = x.shape;
  half.back() = Dim(x.shape.back().value / 2);
  for (int i = 1; i <= 2; ++i) {
    auto b = broadcast_shapes(half, op.operand(i)->shape());
    if (!b || *b != half)
      return infer_error(fmt::format("{} {} does not broadcast to the half of x, {}", i == 1 ? "cos" : "sin",
                                     op.operand(i)->type().str(), shape_str(half)));
  }
  return std::vector<TensorType>{x};
}

Types infer_attention(const Op& op) {
  auto t = common_float_dtype(op, 0, 2);
  if (!t.ok()) return t.error();
  const TensorType& q = op.operand(0)->type();
  const TensorType& k = op.operand(1)->type();
  const TensorType& v = op.operand(2)->type();
  const TensorType& mask = op.operand(3)->type();
  if (q.rank() != 3 || k.rank() != 3 || v.rank() != 3)
    return infer_error("expects q [H, n, hd], k [K, t, hd], v [K, t, dv], got " + types_of(op));
  const Dim &H = q.shape[0], &n = q.shape[1], &K = k.shape[0], &t_len = k.shape[1];
  if (!H.is_static() || !K.is_static() || K.value == 0 || H.value % K.value != 0)
    return infer_error(fmt::format("query heads {} must be a static multiple of KV heads {}", H.str(), K.str()));
  if (!(q.shape[2] == k.shape[2]) || !(v.shape[0] == K) || !(v.shape[1] == t_len))
    return infer_error("expects q [H, n, hd], k [K, t, hd], v [K, t, dv], got " + types_of(op));
  if (mask.dtype != DType::boolean || mask.rank() > 2)
    return infer_error("mask must be bool of rank <= 2, got " + mask.str());
  const Shape scores{n, t_len};
  auto b = broadcast_shapes(scores, mask.shape);
  if (!b || *b != scores)
    return infer_error(fmt::format("mask {} does not broadcast to [n, t] = {}", mask.str(), shape_str(scores)));
  return std::vector<TensorType>{TensorType(q.dtype, {H, n, v.shape[2]})};
}

Types infer_geglu(const Op& op) {
  auto t = common_float_dtype(op, 0, 2);
  if (!t.ok()) return t.error();
  const TensorType& h = op.operand(0)->type();
  const TensorType& wg = op.operand(1)->type();
  const TensorType& wu = op.operand(2)->type();
  if (h.rank() < 1 || wg.rank() != 2 || wg != wu || !(wg.shape[1] == h.shape.back()))
    return infer_error("expects h [..., D], w_gate and w_up [F, D], got " + types_of(op));
  Shape out = h.shape;
  out.back() = wg.shape[0];
  return std::vector<TensorType>{TensorType(h.dtype, out)};
}

// The body: one block, arguments the scalars of the inputs' dtypes, only
// elementwise ops and scalar constants on values of the block itself, one
// scalar yielded.
Expected<DType> check_elementwise_body(const Op& op) {
  const Block& body = *op.region(0);
  if (body.num_args() != op.num_operands())
    return infer_error(fmt::format("body has {} arguments for {} inputs", body.num_args(), op.num_operands()));
  std::vector<const Value*> defined;
  for (int i = 0; i < body.num_args(); ++i) {
    const TensorType want(op.operand(i)->dtype(), {});
    if (body.arg(i)->type() != want)
      return infer_error(fmt::format("body argument {} must be {}, got {}", i, want.str(), body.arg(i)->type().str()));
    defined.push_back(body.arg(i));
  }
  const Op* yield = body.terminator();
  if (!yield || yield->name() != "yield" || yield->num_operands() != 1)
    return infer_error("body must end with a yield of one value");
  for (const auto& inner : body.ops()) {
    const bool scalar_constant = inner->name() == "constant" && inner->num_results() == 1 &&
                                 inner->result(0)->rank() == 0;
    if (inner.get() != yield && !inner->def().is_elementwise && !scalar_constant)
      return infer_error("body may hold only elementwise ops and scalar constants, found " + inner->name());
    for (const Value* v : inner->operands())
      if (std::find(defined.begin(), defined.end(), v) == defined.end())
        return infer_error("body ops may use only the body's arguments and values");
    for (const auto& r : inner->results()) {
      if (r->rank() != 0) return infer_error(inner->name() + " in the body must be a scalar, is " + r->type().str());
      defined.push_back(r.get());
    }
  }
  const TensorType& y = yield->operand(0)->type();
  if (y.rank() != 0) return infer_error("body must yield a scalar, yields " + y.str());
  return y.dtype;
}

Types infer_fused_elementwise(const Op& op) {
  auto dtype = check_elementwise_body(op);
  if (!dtype.ok()) return dtype.error();
  Shape s;
  for (int i = 0; i < op.num_operands(); ++i) {
    auto b = broadcast_shapes(s, op.operand(i)->shape());
    if (!b) return infer_error("input shapes do not broadcast: " + types_of(op));
    s = *b;
  }
  const std::vector<Dim>& given = op.attr("shape").as_dims();
  if (!given.empty()) {
    auto b = broadcast_shapes(given, s);
    if (!b || *b != given)
      return infer_error(fmt::format("inputs {} do not broadcast to shape {}", types_of(op), shape_str(given)));
    s = given;
  }
  return std::vector<TensorType>{TensorType(*dtype, s)};
}

}  // namespace

void register_fused_ops(OpRegistry& r) {
  r.add(OpDef{.name = "rms_norm",
              .summary = "Gemma RMSNorm over the last axis: x * rsqrt(mean(x^2) + eps) * (1 + w)",
              .min_operands = 2,
              .max_operands = 2,
              .attrs = {{"eps", AttrKind::Float, std::nullopt, "added to the mean square"}},
              .infer = infer_rms_norm});
  r.add(OpDef{.name = "rope",
              .summary = "half-split rotary embedding: [x1 cos - x2 sin, x2 cos + x1 sin]",
              .min_operands = 3,
              .max_operands = 3,
              .infer = infer_rope});
  r.add(OpDef{.name = "attention",
              .summary = "grouped-query attention: softmax(select(mask, q k^T * scale, mask_value)) v",
              .min_operands = 4,
              .max_operands = 4,
              .attrs = {{"scale", AttrKind::Float, std::nullopt, "multiplies q k^T"},
                        {"mask_value", AttrKind::Float, Attribute(-1e30), "the score where mask is false"}},
              .infer = infer_attention});
  r.add(OpDef{.name = "geglu",
              .summary = "gelu_tanh(h w_gate^T) * (h w_up^T)",
              .min_operands = 3,
              .max_operands = 3,
              .infer = infer_geglu});
  r.add(OpDef{.name = "fused_elementwise",
              .summary = "its region, a scalar expression, applied to every element of the broadcast inputs",
              .min_operands = 1,
              .max_operands = OpDef::kVariadic,
              .attrs = {{"shape", AttrKind::Dims, Attribute(std::vector<Dim>{}),
                         "the result shape; [] means the broadcast of the inputs"}},
              .num_regions = 1,
              .infer = infer_fused_elementwise});
}

}  // namespace graphc
