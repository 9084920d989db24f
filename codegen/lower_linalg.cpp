// Lowerings of matmul (ir/ops/linalg.cpp) and geglu (ir/ops/fused.cpp) to
// the matrix-product templates: codegen/kernels/matvec.c, gemm.c, geglu.c.
//
// Which template:
//   rows of activations M <= 4, weight [N, K] (transpose_b)  -> matvec: one
//       work item per output column n, every weight row read once (decode).
//       Block-format weights use the VNNI integer-dot variant when the host
//       has AVX-512 BW/VL + VNNI, else the portable one (decode, f32 FMA).
//   everything else                                         -> GEMM: one
//       work item per mc x 64 tile of C (and of each batch entry).
// A 2-D right operand folds the left operand's batch dims into M, so
// [1, 1, 640] x [2048, 640]^T is a matvec and [1, 128, 640] one GEMM.
//
// Refused, with the op, shapes and format in the message: non-f32 operands,
// a left operand in a block format, a block-format right operand that is not
// a 2-D [N, K] weight used with transpose_b, rows that are not whole blocks,
// and more than three batch dims that cannot be merged.
#include <fmt/format.h>

#include "codegen/kernel_call.h"
#include "codegen/lowering_support.h"

namespace graphc {
namespace {

using namespace lowering;
using A = KernelArg;

// Must match codegen/kernels: GK_MV_MAX_M (matvec.h), GK_NC and GK_MR
// (gemm.h).
constexpr int64_t kMatvecMaxRows = 4;
constexpr int64_t kGemmTileN = 64;
// The matvec keeps M*K int8 (and K floats) of x on the stack: beyond this
// the GEMM, whose stack use is fixed, takes over.
constexpr int64_t kMatvecMaxK = 16384;

int64_t gemm_tile_rows(const LoweringContext& ctx) {
  const int64_t mr = host_width(ctx) == 16 ? 8 : 6;
  return (128 + mr - 1) / mr * mr;
}

bool host_has_vnni(const LoweringContext& ctx) {
  return ctx.cpu.avx512f && ctx.cpu.avx512bw && ctx.cpu.avx512vl && ctx.cpu.avx512_vnni;
}

bool has_vnni_variant(GgmlType t) {
  return t == GgmlType::Q8_0 || t == GgmlType::Q5_0 || t == GgmlType::Q4_K || t == GgmlType::Q6_K;
}

// The weight formats the templates read (quant_blocks.h).
bool kernels_read(GgmlType t) {
  return t == GgmlType::F32 || t == GgmlType::BF16 || t == GgmlType::F16 || has_vnni_variant(t);
}

GgmlType format_of(const BufferInfo& b) { return b.packed ? *b.packed : GgmlType::F32; }

std::string shape_text(const BufferInfo& b) {
  return fmt::format("[{}]{}", fmt::join(b.shape, ","),
                     b.packed ? fmt::format(" in {}", ggml_type_name(*b.packed)) : std::string());
}

// Columns of a matvec per task: about 200 KB of weight rows, ~20 us at the
// ~10 GB/s one core streams.
int64_t matvec_grain(int64_t row_bytes_each) { return std::max<int64_t>(1, 200000 / std::max<int64_t>(1, row_bytes_each)); }

KernelCall matvec_call(const LoweringContext& ctx, GgmlType w, int64_t M, int64_t N, int64_t K) {
  const bool vnni = has_vnni_variant(w) && host_has_vnni(ctx);
  KernelCall k{vnni ? "gk_matvec_vnni" : "gk_matvec",
               {A::buf(0), A::buf(1), A::buf(2), A::i(static_cast<int64_t>(w)), A::i(M), A::i(N), A::i(K)}};
  k.extent = N;
  k.grain = matvec_grain(*row_bytes(w, K));
  return k;
}

// Result batch dims with A's and B's matrix strides along them (0 where one
// broadcasts), size-1 dims dropped and neighbours merged where both operands
// step through them contiguously; at most three remain.
struct Batch {
  std::vector<int64_t> dims, a_strides, b_strides;
};

Expected<Batch> batch_of(const LoweringContext& ctx, int64_t a_matrix, int64_t b_matrix) {
  const std::vector<int64_t>& out = ctx.results[0].shape;
  const std::vector<int64_t> out_batch(out.begin(), out.end() - 2);
  auto strides = [&](const std::vector<int64_t>& shape, int64_t matrix) {
    const std::vector<int64_t> own(shape.begin(), shape.end() - 2);
    std::vector<int64_t> s = strides_of(own);
    std::vector<int64_t> r(out_batch.size(), 0);
    for (size_t i = 0; i < own.size(); ++i)
      r[out_batch.size() - own.size() + i] = own[i] == 1 ? 0 : s[i] * matrix;
    return r;
  };
  const std::vector<int64_t> as = strides(ctx.operands[0].shape, a_matrix), bs = strides(ctx.operands[1].shape, b_matrix);
  Batch b;
  for (size_t i = 0; i < out_batch.size(); ++i) {
    if (out_batch[i] == 1) continue;
    if (!b.dims.empty() && b.a_strides.back() == as[i] * out_batch[i] && b.b_strides.back() == bs[i] * out_batch[i]) {
      b.dims.back() *= out_batch[i];
      b.a_strides.back() = as[i];
      b.b_strides.back() = bs[i];
      continue;
    }
    b.dims.push_back(out_batch[i]);
    b.a_strides.push_back(as[i]);
    b.b_strides.push_back(bs[i]);
  }
  if (b.dims.size() > 3) return unsupported(ctx, "more than three batch dims that do not merge");
  while (b.dims.size() < 3) {
    b.dims.insert(b.dims.begin(), 1);
    b.a_strides.insert(b.a_strides.begin(), 0);
    b.b_strides.insert(b.b_strides.begin(), 0);
  }
  return b;
}

KernelCall gemm_call(const LoweringContext& ctx, GgmlType w, int64_t M, int64_t N, int64_t K, bool ta, bool tb,
                     const Batch& batch) {
  const int64_t mc = gemm_tile_rows(ctx);
  KernelCall k{"gk_gemm", {A::buf(0), A::buf(1), A::buf(2), A::i(static_cast<int64_t>(w)), A::i(M), A::i(N), A::i(K),
                           A::i(ta), A::i(tb)}};
  for (int64_t d : batch.dims) k.args.push_back(A::i(d));
  for (int64_t s : batch.a_strides) k.args.push_back(A::i(s));
  for (int64_t s : batch.b_strides) k.args.push_back(A::i(s));
  k.args.push_back(A::i(mc));
  // Tiles are ~1-5 MFLOP at the shapes that matter: each is a task.
  k.extent = product(batch.dims) * ((M + mc - 1) / mc) * ((N + kGemmTileN - 1) / kGemmTileN);
  k.grain = 1;
  return k;
}

Expected<KernelCall> matmul(const LoweringContext& ctx) {
  const BufferInfo &a = ctx.operands[0], &b = ctx.operands[1];
  if (a.dtype != DType::f32 || b.dtype != DType::f32) return unsupported(ctx, "only f32 operands");
  if (a.packed && *a.packed != GgmlType::F32)
    return unsupported(ctx, fmt::format("left operand {} in a block format", shape_text(a)));
  const GgmlType w = format_of(b);
  if (!kernels_read(w)) return unsupported(ctx, fmt::format("weights in {}", ggml_type_name(w)));
  const bool ta = ctx.op.attr_bool("transpose_a"), tb = ctx.op.attr_bool("transpose_b");
  const size_t ra = a.shape.size(), rb = b.shape.size();
  const int64_t m = ta ? a.shape[ra - 1] : a.shape[ra - 2], K = ta ? a.shape[ra - 2] : a.shape[ra - 1];
  const int64_t N = tb ? b.shape[rb - 2] : b.shape[rb - 1];
  if (w != GgmlType::F32) {
    if (rb != 2 || !tb)
      return unsupported(ctx, fmt::format("a weight {} must be a 2-D [N, K] operand used with transpose_b",
                                          shape_text(b)));
    if (!row_bytes(w, K))
      return unsupported(ctx, fmt::format("rows of {} elements are not whole {} blocks", K, ggml_type_name(w)));
  }

  // A 2-D B and an untransposed A: A's batch dims are more rows.
  const Batch none{{1, 1, 1}, {0, 0, 0}, {0, 0, 0}};
  if (rb == 2 && !ta) {
    const int64_t M = product(a.shape, 0, ra - 1);
    if (tb && M <= kMatvecMaxRows && K > 0 && K <= kMatvecMaxK) return matvec_call(ctx, w, M, N, K);
    return gemm_call(ctx, w, M, N, K, false, tb, none);
  }
  auto batch = batch_of(ctx, m * K, N * K);
  if (!batch.ok()) return batch.error();
  return gemm_call(ctx, w, m, N, K, ta, tb, *batch);
}

// geglu(h [..., D], w_gate [F, D], w_up [F, D]) -> [..., F].
Expected<KernelCall> geglu(const LoweringContext& ctx) {
  const BufferInfo &h = ctx.operands[0], &wg = ctx.operands[1], &wu = ctx.operands[2];
  if (h.dtype != DType::f32 || wg.dtype != DType::f32 || wu.dtype != DType::f32)
    return unsupported(ctx, "only f32 operands");
  if (h.packed && *h.packed != GgmlType::F32)
    return unsupported(ctx, fmt::format("activations {} in a block format", shape_text(h)));
  const GgmlType w = format_of(wg);
  if (format_of(wu) != w)
    return unsupported(ctx, fmt::format("gate {} and up {} in different formats", shape_text(wg), shape_text(wu)));
  if (!kernels_read(w)) return unsupported(ctx, fmt::format("weights in {}", ggml_type_name(w)));
  const int64_t D = wg.shape[1], F = wg.shape[0];
  if (!row_bytes(w, D))
    return unsupported(ctx, fmt::format("rows of {} elements are not whole {} blocks", D, ggml_type_name(w)));
  const int64_t M = product(h.shape, 0, h.shape.size() - 1);
  if (M <= kMatvecMaxRows && D > 0 && D <= kMatvecMaxK) {
    const bool vnni = has_vnni_variant(w) && host_has_vnni(ctx);
    KernelCall k{vnni ? "gk_geglu_vnni" : "gk_geglu", {A::buf(0), A::buf(1), A::buf(2), A::buf(3),
                                                        A::i(static_cast<int64_t>(w)), A::i(M), A::i(F), A::i(D)}};
    k.extent = F;
    k.grain = matvec_grain(2 * *row_bytes(w, D));
    return k;
  }
  const int64_t mc = gemm_tile_rows(ctx);
  KernelCall k{"gk_geglu_gemm", {A::buf(0), A::buf(1), A::buf(2), A::buf(3), A::i(static_cast<int64_t>(w)), A::i(M),
                                 A::i(F), A::i(D), A::i(mc)}};
  k.extent = (M + mc - 1) / mc * ((F + kGemmTileN - 1) / kGemmTileN);
  k.grain = 1;
  return k;
}

}  // namespace

void register_linalg_lowerings(KernelLowerings& l) {
  l.add("matmul", matmul);
  l.add("geglu", geglu);
}

}  // namespace graphc
