// Lowerings of iota and random_uniform (ir/ops/generators.cpp) to
// codegen/kernels/generators.c. `constant` needs no kernel: the runtime
// stores its value once.
#include "codegen/kernel_call.h"
#include "codegen/lowering_support.h"

namespace graphc {
namespace {

using namespace lowering;
using A = KernelArg;

Expected<KernelCall> iota(const LoweringContext& ctx) {
  const BufferInfo& out = ctx.results[0];
  if (out.dtype != DType::i32 && out.dtype != DType::i64 && out.dtype != DType::f32)
    return unsupported(ctx, "iota of " + std::string(dtype_name(out.dtype)));
  const int axis = normalized_axis(ctx.op.attr_int("axis"), out.shape.size());
  const AxisView v = out.shape.empty() ? AxisView{} : around_axis(out.shape, axis);
  KernelCall k{"gk_iota_" + std::string(dtype_name(out.dtype)), {A::buf(0), A::i(v.n), A::i(v.inner)}};
  k.extent = out.numel();
  k.grain = 16384;
  return k;
}

Expected<KernelCall> random_uniform(const LoweringContext& ctx) {
  const BufferInfo& values = ctx.results[0];
  if (values.dtype != DType::f32) return unsupported(ctx, "random values of " + std::string(dtype_name(values.dtype)));
  KernelCall k{"gk_random_uniform_f32", {A::buf(1), A::buf(2), A::buf(0), A::i(values.numel())}};
  k.extent = std::max<int64_t>(values.numel(), 1);  // item 0 also writes the next seed
  k.grain = 16384;
  return k;
}

}  // namespace

void register_generator_lowerings(KernelLowerings& l) {
  l.add("iota", iota);
  l.add("random_uniform", random_uniform);
}

}  // namespace graphc
