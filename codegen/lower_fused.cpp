// Lowerings of rms_norm, rope and attention (ir/ops/fused.cpp) to
// codegen/kernels/fused.c. geglu is a matrix product: lower_linalg.cpp.
#include "codegen/kernel_call.h"
#include "codegen/lowering_support.h"

namespace graphc {
namespace {

using namespace lowering;
using A = KernelArg;

bool all_f32(const LoweringContext& ctx) {
  for (const BufferInfo& b : ctx.operands)
    if (b.dtype != DType::f32 || b.packed) return false;
  return true;
}

Expected<KernelCall> rms_norm(const LoweringContext& ctx) {
  if (!all_f32(ctx)) return unsupported(ctx, "only f32");
  const int64_t d = ctx.operands[0].shape.back();
  KernelCall k{"gk_rms_norm_f32",
               {A::buf(2), A::buf(0), A::buf(1), A::i(d), A::f(static_cast<float>(ctx.op.attr_float("eps")))}};
  k.extent = d == 0 ? 0 : ctx.operands[0].numel() / d;
  k.grain = grain_for(2 * d);
  return k;
}

// Element strides of `b` broadcast (right-aligned) to `rank` dims of
// `shape`: 0 where b has a 1 or lacks the dim.
std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& b, const std::vector<int64_t>& shape) {
  const std::vector<int64_t> s = strides_of(b);
  std::vector<int64_t> out(shape.size(), 0);
  for (size_t k = 0; k < b.size(); ++k) {
    const size_t d = shape.size() - b.size() + k;
    out[d] = b[k] == 1 ? 0 : s[k];
  }
  return out;
}

Expected<KernelCall> rope(const LoweringContext& ctx) {
  if (!all_f32(ctx)) return unsupported(ctx, "only f32");
  std::vector<int64_t> half_shape = ctx.operands[0].shape;
  if (half_shape.empty() || half_shape.size() > 4) return unsupported(ctx, "rank 1 to 4");
  half_shape.back() /= 2;
  const std::vector<int64_t> padded = pad_front(half_shape, 4, 1);
  const std::vector<int64_t> cs = pad_front(broadcast_strides(ctx.operands[1].shape, half_shape), 4, 0);
  const std::vector<int64_t> ss = pad_front(broadcast_strides(ctx.operands[2].shape, half_shape), 4, 0);
  KernelCall k{"gk_rope_f32", {A::buf(3), A::buf(0), A::buf(1), A::buf(2), A::i(padded[1]), A::i(padded[2]),
                               A::i(padded[3])}};
  for (int64_t s : cs) k.args.push_back(A::i(s));
  for (int64_t s : ss) k.args.push_back(A::i(s));
  k.extent = product(padded, 0, 3);
  k.grain = grain_for(4 * padded[3]);
  return k;
}

Expected<KernelCall> attention(const LoweringContext& ctx) {
  const BufferInfo &q = ctx.operands[0], &kk = ctx.operands[1], &v = ctx.operands[2], &mask = ctx.operands[3];
  if (q.dtype != DType::f32 || kk.dtype != DType::f32 || v.dtype != DType::f32 || mask.dtype != DType::boolean)
    return unsupported(ctx, "f32 q, k, v and a bool mask");
  const int64_t H = q.shape[0], n = q.shape[1], hd = q.shape[2], K = kk.shape[0], T = kk.shape[1], dv = v.shape[2];
  if (dv > 1024) return unsupported(ctx, "value heads above 1024");
  // The kernel skips hidden keys, exact when their weight exp(mask_value -
  // max) is 0 in float: mask_value far below any score.
  if (!(ctx.op.attr_float("mask_value") <= -1e4)) return unsupported(ctx, "mask_value above -1e4");
  const std::vector<int64_t> ms = broadcast_strides(mask.shape, {n, T});
  const A scale = A::f(static_cast<float>(ctx.op.attr_float("scale")));
  const int64_t G = H / K;
  if (K * n < 4 && G <= 64) {
    // A decode step (one row, in Gemma-3 one KV head) would be one item or
    // few: the keys go in two halves, one item each, merged through a
    // scratch buffer, so each thread reads half of the KV cache. (64: the
    // kernel's GK_ATTENTION_HEADS.)
    KernelCall k{"gk_attention_split_f32",
                 {A::buf(4), A::buf(0), A::buf(1), A::buf(2), A::buf(3), A::buf(5), A::i(H), A::i(n), A::i(hd), A::i(K),
                  A::i(T), A::i(dv), A::i(ms[0]), A::i(ms[1]), scale}};
    k.extent = K * n * 2;
    k.grain = 1;
    k.scratch_bytes = K * n * (64 + 2 * 4 * (2 * G + G * dv));  // gk_attention_split_part
    return k;
  }
  KernelCall k{"gk_attention_f32",
               {A::buf(4), A::buf(0), A::buf(1), A::buf(2), A::buf(3), A::i(H), A::i(n), A::i(hd), A::i(K), A::i(T),
                A::i(dv), A::i(ms[0]), A::i(ms[1]), scale}};
  k.extent = K * n;
  k.grain = 1;
  return k;
}

}  // namespace

void register_fused_lowerings(KernelLowerings& l) {
  l.add("rms_norm", rms_norm);
  l.add("rope", rope);
  l.add("attention", attention);
}

}  // namespace graphc
