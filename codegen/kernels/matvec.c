/* Matrix-vector products for decode: y[m, n] = sum_k x[m, k] * W[n, k] for
 * M <= 4 activation rows x [M, K] and a weight W [N, K] (matmul with
 * transpose_b), W in f32, bf16, f16 or a GGUF block format kept quantized.
 * y is [M, N]. Work item n computes column n for every m: one weight row is
 * read once for all M rows. Row dots are in matvec.h.
 *
 * Buffers: x (f32), w (rows of fmt), y (f32). fmt is a GK_FMT_* code.
 */
#include "codegen/kernels/matvec.h"

/* Portable: any format, f32 arithmetic (block formats decoded per row). */
GK_TEMPLATE void gk_matvec(const float *x, const uint8_t *w, float *y, int64_t fmt, int64_t M, int64_t N, int64_t K,
                           int64_t begin, int64_t end) {
  const int64_t row = gk_row_bytes(fmt, K);
  float scratch[fmt == GK_FMT_F32 || fmt == GK_FMT_BF16 ? 1 : K];
  for (int64_t n = begin; n < end; ++n) {
    float out[GK_MV_MAX_M];
    gk_mv_dot_row(fmt, x, w + n * row, M, K, scratch, out);
    for (int64_t m = 0; m < M; ++m) y[m * N + n] = out[m];
  }
}

/* Q8_0, Q5_0, Q4_K, Q6_K with integer dots (AVX-512 VNNI hosts). Each call
 * quantizes all of x itself (M*K bytes, a few microseconds at most), so
 * tasks share nothing. */
GK_TEMPLATE GK_VNNI_TARGET void gk_matvec_vnni(const float *x, const uint8_t *w, float *y, int64_t fmt, int64_t M,
                                               int64_t N, int64_t K, int64_t begin, int64_t end) {
  const int64_t qb = gk_qx_block(fmt);
  int8_t q[M * K];
  float d[M * (K / qb)];
  int32_t bsum[M * (K / 32)], bias[8 * M * (K / 32)];
  const gk_qx qx = {q, d, bsum, bias, qb, fmt};
  gk_quantize_x(x, M, K, qx);
  const int64_t row = gk_row_bytes(fmt, K);
  for (int64_t n = begin; n < end; ++n) {
    float out[GK_MV_MAX_M];
    gk_mv_dot_row_vnni(fmt, qx, w + n * row, M, K, out);
    for (int64_t m = 0; m < M; ++m) y[m * N + n] = out[m];
  }
}

/* Rows [begin, end) of a [rows, K] weight in format fmt decoded to f32
 * (checks the decoders against runtime/dequantize.cpp; a gather of rows
 * from a packed table does the same). */
GK_TEMPLATE void gk_decode_rows(const uint8_t *w, float *y, int64_t fmt, int64_t K, int64_t begin, int64_t end) {
  const int64_t row = gk_row_bytes(fmt, K);
  for (int64_t r = begin; r < end; ++r) gk_decode_row(fmt, w + r * row, 0, K, y + r * K);
}
