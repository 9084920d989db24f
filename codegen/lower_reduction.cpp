// Lowerings of the reductions (ir/ops/reduction.cpp) to the templates of
// codegen/kernels/reduction.c.
#include <algorithm>

#include "codegen/kernel_call.h"
#include "codegen/lowering_support.h"

namespace graphc {
namespace {

using namespace lowering;
using A = KernelArg;

std::string type_suffix(DType t) { return std::string(dtype_name(t)); }

Expected<KernelCall> reduce(const LoweringContext& ctx) {
  const BufferInfo& x = ctx.operands[0];
  const std::string kind = ctx.op.attr_string("kind");
  std::vector<int> axes;
  for (int64_t a : ctx.op.attr_ints("axes")) axes.push_back(normalized_axis(a, x.shape.size()));
  std::sort(axes.begin(), axes.end());
  for (size_t i = 1; i < axes.size(); ++i)
    if (axes[i] != axes[i - 1] + 1) return unsupported(ctx, "reduced axes must be adjacent");
  const int64_t outer = product(x.shape, 0, axes.front());
  const int64_t n = product(x.shape, axes.front(), axes.back() + 1);
  const int64_t inner = product(x.shape, axes.back() + 1);
  if (x.dtype != DType::f32 && x.dtype != DType::i32 && x.dtype != DType::i64) return unsupported(ctx, "dtype");
  if (kind == "mean" && x.dtype != DType::f32) return unsupported(ctx, "mean of integers");
  const std::string name = "gk_reduce_" + std::string(kind == "max" ? "max_" : "sum_") + type_suffix(x.dtype);
  const double scale = kind == "mean" ? 1.0 / double(n) : 1.0;
  KernelCall k{name, {A::buf(1), A::buf(0), A::i(n), A::i(inner)}};
  k.args.push_back(A::f(static_cast<float>(scale)));  // mean: 1/n
  k.extent = outer * inner;
  k.grain = grain_for(n);
  return k;
}

Expected<KernelCall> along_axis(const LoweringContext& ctx, const std::string& name, bool float_only) {
  const BufferInfo& x = ctx.operands[0];
  if (float_only && x.dtype != DType::f32) return unsupported(ctx, "only f32");
  const int axis = normalized_axis(ctx.op.attr_int("axis"), x.shape.size());
  const AxisView v = around_axis(x.shape, axis);
  KernelCall k{name, {A::buf(1), A::buf(0), A::i(v.n), A::i(v.inner)}};
  k.extent = v.outer * v.inner;
  k.grain = grain_for(v.n);
  return k;
}

Expected<KernelCall> cumsum(const LoweringContext& ctx) {
  const DType t = ctx.operands[0].dtype;
  if (t != DType::f32 && t != DType::i32 && t != DType::i64) return unsupported(ctx, "dtype");
  return along_axis(ctx, "gk_cumsum_" + type_suffix(t), false);
}

Expected<KernelCall> topk(const LoweringContext& ctx) {
  const BufferInfo& x = ctx.operands[0];
  if (x.dtype != DType::f32) return unsupported(ctx, "only f32");
  const int64_t n = x.shape.back(), k = ctx.op.attr_int("k");
  KernelCall call{"gk_topk_f32", {A::buf(1), A::buf(2), A::buf(0), A::i(n), A::i(k)}};
  call.extent = n == 0 ? 0 : x.numel() / n;
  call.grain = 1;
  return call;
}

}  // namespace

void register_reduction_lowerings(KernelLowerings& l) {
  l.add("reduce", reduce);
  l.add("softmax", [](const LoweringContext& c) { return along_axis(c, "gk_softmax_f32", true); });
  l.add("argmax", [](const LoweringContext& c) { return along_axis(c, "gk_argmax_f32", true); });
  l.add("cumsum", cumsum);
  l.add("topk", topk);
}

}  // namespace graphc
