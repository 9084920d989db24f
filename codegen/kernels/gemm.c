/* General matmul C = op(A) op(B) for prefill and training (gemm.h has the
 * blocking). The weight case is C[M, N] = A[M, K] B^T with B [N, K] in any
 * format (block formats are decoded while packing, so prefill runs on a
 * quantized checkpoint too); transposes and broadcast batch dims are the
 * same kernel with other strides.
 *
 * Buffers: a (f32), b (f32 or rows of fmt), c (f32 [batch..., M, N]).
 * Batch: up to three result batch dims nb0..nb2 (outer to inner, 1 when
 * absent); as_i / bs_i are the element strides of A's and B's matrices along
 * them (0 where the operand broadcasts). A block-format B has no batch.
 * Work item: one mc x GK_NC tile of one batch entry's C.
 */
#include "codegen/kernels/gemm.h"

GK_TEMPLATE void gk_gemm(const float *a, const uint8_t *b, float *c, int64_t fmt, int64_t M, int64_t N, int64_t K,
                         int64_t trans_a, int64_t trans_b, int64_t nb0, int64_t nb1, int64_t nb2, int64_t as0,
                         int64_t as1, int64_t as2, int64_t bs0, int64_t bs1, int64_t bs2, int64_t mc, int64_t begin,
                         int64_t end) {
  const int64_t tiles_m = (M + mc - 1) / mc, tiles_n = (N + GK_NC - 1) / GK_NC;
  for (int64_t item = begin; item < end; ++item) {
    const int64_t tile = item % (tiles_m * tiles_n), entry = item / (tiles_m * tiles_n);
    const int64_t e2 = entry % nb2, e1 = entry / nb2 % nb1, e0 = entry / nb2 / nb1;
    (void)nb0;
    const int64_t i0 = tile / tiles_n * mc, j0 = tile % tiles_n * GK_NC;
    float *ct = c + entry * M * N + i0 * N + j0;
    if (K == 0) {
      for (int64_t i = i0; i < i0 + mc && i < M; ++i)
        for (int64_t j = j0; j < j0 + GK_NC && j < N; ++j) c[entry * M * N + i * N + j] = 0.0f;
      continue;
    }
    const gk_mat_a ma = {a + e0 * as0 + e1 * as1 + e2 * as2, trans_a ? 1 : K, trans_a ? M : 1, M};
    const int64_t boff = e0 * bs0 + e1 * bs1 + e2 * bs2;
    const gk_mat_b mb = {b + 4 * boff, fmt, trans_b ? K : 1, trans_b ? 1 : N, gk_row_bytes(fmt, K), N};
    gk_gemm_tile(ma, mb, K, i0, mc, j0, GK_NC, ct, N);
  }
}
