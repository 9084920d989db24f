/* geglu(h, w_gate, w_up) = gelu_tanh(h w_gate^T) * (h w_up^T) for h [M, D]
 * (leading dims flattened) and w_gate, w_up [F, D] in one format; y [M, F].
 * backends/reference/fused_kernels.cpp is the definition: the two sums are
 * rounded to f32, gelu_tanh is evaluated with every step rounded to f32 as
 * graphs/layers.h composes it, and the product is rounded once.
 *
 * Decode (M <= 4): work item f computes both row dots (matvec.h) and the
 * product, the products of up to GK_GELU_BATCH items at once. Prefill: work
 * item = an mc x GK_NC tile; the gate tile goes to y, the up tile to the
 * stack, then y = gelu(y) * up in place.
 */
#include <math.h>

#include "codegen/kernels/gemm.h"
#include "codegen/kernels/matvec.h"

/* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), each operation rounded to
 * f32 in the reference's order: no contraction into FMAs here. */
static inline float gk_gelu_tanh(float x) {
#pragma clang fp contract(off)
  const float cube = ((0.044715f * x) * x) * x;
  const float inner = 0.7978845608028654f * (x + cube);
  const float half_x = 0.5f * x;
  return half_x * (1.0f + gk_tanhf(inner));
}

static inline float gk_geglu_out(float gate, float up) {
#pragma clang fp contract(off)
  return gk_gelu_tanh(gate) * up;
}

/* Decode computes the row dots of GK_GELU_BATCH outputs first and their gelu
 * after, as one loop the compiler vectorises: one scalar gelu per output
 * (tanh through exp) cost a quarter of a Q5_0 decode call. */
enum { GK_GELU_BATCH = 32 };

/* Keeps output t's sums for rows m < M: gate[m * GK_GELU_BATCH + t]. */
static inline void gk_geglu_keep(float *gate, float *up, int64_t t, const float *g, const float *u, int64_t M) {
  for (int64_t m = 0; m < M; ++m) {
    gate[m * GK_GELU_BATCH + t] = g[m];
    up[m * GK_GELU_BATCH + t] = u[m];
  }
}

/* y[m, f0 + t] for the nf outputs kept. */
static inline void gk_geglu_store(float *y, const float *gate, const float *up, int64_t M, int64_t F, int64_t f0,
                                  int64_t nf) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t t = 0; t < nf; ++t)
      y[m * F + f0 + t] = gk_geglu_out(gate[m * GK_GELU_BATCH + t], up[m * GK_GELU_BATCH + t]);
}

GK_TEMPLATE void gk_geglu(const float *h, const uint8_t *wg, const uint8_t *wu, float *y, int64_t fmt, int64_t M,
                          int64_t F, int64_t D, int64_t begin, int64_t end) {
  const int64_t row = gk_row_bytes(fmt, D);
  float scratch[fmt == GK_FMT_F32 || fmt == GK_FMT_BF16 ? 1 : D];
  for (int64_t f0 = begin; f0 < end; f0 += GK_GELU_BATCH) {
    const int64_t nf = end - f0 < GK_GELU_BATCH ? end - f0 : GK_GELU_BATCH;
    float gate[GK_MV_MAX_M * GK_GELU_BATCH], up[GK_MV_MAX_M * GK_GELU_BATCH];
    for (int64_t t = 0; t < nf; ++t) {
      float g[GK_MV_MAX_M], u[GK_MV_MAX_M];
      gk_mv_dot_row(fmt, h, wg + (f0 + t) * row, M, D, scratch, g);
      gk_mv_dot_row(fmt, h, wu + (f0 + t) * row, M, D, scratch, u);
      gk_geglu_keep(gate, up, t, g, u, M);
    }
    gk_geglu_store(y, gate, up, M, F, f0, nf);
  }
}

GK_TEMPLATE GK_VNNI_TARGET void gk_geglu_vnni(const float *h, const uint8_t *wg, const uint8_t *wu, float *y,
                                              int64_t fmt, int64_t M, int64_t F, int64_t D, int64_t begin,
                                              int64_t end) {
  const int64_t qb = gk_qx_block(fmt);
  int8_t q[M * D];
  float d[M * (D / qb)];
  int32_t bsum[M * (D / 32)], bias[8 * M * (D / 32)];
  const gk_qx qx = {q, d, bsum, bias, qb, fmt};
  gk_quantize_x(h, M, D, qx);
  const int64_t row = gk_row_bytes(fmt, D);
  for (int64_t f0 = begin; f0 < end; f0 += GK_GELU_BATCH) {
    const int64_t nf = end - f0 < GK_GELU_BATCH ? end - f0 : GK_GELU_BATCH;
    float gate[GK_MV_MAX_M * GK_GELU_BATCH], up[GK_MV_MAX_M * GK_GELU_BATCH];
    for (int64_t t = 0; t < nf; ++t) {
      float g[GK_MV_MAX_M], u[GK_MV_MAX_M];
      gk_mv_dot_row_vnni(fmt, qx, wg + (f0 + t) * row, M, D, g);
      gk_mv_dot_row_vnni(fmt, qx, wu + (f0 + t) * row, M, D, u);
      gk_geglu_keep(gate, up, t, g, u, M);
    }
    gk_geglu_store(y, gate, up, M, F, f0, nf);
  }
}

GK_TEMPLATE void gk_geglu_gemm(const float *h, const uint8_t *wg, const uint8_t *wu, float *y, int64_t fmt,
                               int64_t M, int64_t F, int64_t D, int64_t mc, int64_t begin, int64_t end) {
  const int64_t tiles_n = (F + GK_NC - 1) / GK_NC;
  const int64_t row = gk_row_bytes(fmt, D);
  float up[mc * GK_NC];
  for (int64_t item = begin; item < end; ++item) {
    const int64_t i0 = item / tiles_n * mc, j0 = item % tiles_n * GK_NC;
    const int64_t rows = M - i0 < mc ? M - i0 : mc, cols = F - j0 < GK_NC ? F - j0 : GK_NC;
    const gk_mat_a a = {h, D, 1, M};
    const gk_mat_b bg = {wg, fmt, D, 1, row, F}, bu = {wu, fmt, D, 1, row, F};
    float *yt = y + i0 * F + j0;
    if (D == 0) {
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j) yt[i * F + j] = gk_geglu_out(0.0f, 0.0f);
      continue;
    }
    gk_gemm_tile(a, bg, D, i0, mc, j0, GK_NC, yt, F);
    gk_gemm_tile(a, bu, D, i0, mc, j0, GK_NC, up, GK_NC);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) yt[i * F + j] = gk_geglu_out(yt[i * F + j], up[i * GK_NC + j]);
  }
}
