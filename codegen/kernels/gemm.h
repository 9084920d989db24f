/* A register-blocked GEMM tile for prefill and training: C[i, j] (+)= sum_k
 * A(i, k) * B(j, k) over one tile of C, shared by the gemm and prefill geglu
 * templates (gemm.c, geglu.c).
 *
 * Blocking (Goto-style, sized for a 32-48 KiB L1 and a >= 512 KiB L2):
 *   for each K block of GK_KC (256: whole Q4_K/Q6_K super-blocks):
 *     pack B's tile columns j0..j0+nc into Bp [nc/NR][kc][NR] on the stack
 *       (64 KiB, in L2), decoding block formats on the way;
 *     for each MR rows of A (read in place: MR broadcast streams, the MR x kc
 *       panel stays in L1 across the j panels):
 *       for each NR = 2 vectors of columns: the microkernel keeps MR x 2
 *         vector accumulators in registers over kc and adds them to C.
 *
 * A(i, k) is a[i * ars + k * aks] (row-major or transposed A alike); B(j, k)
 * is element k of row j of a [N, K] weight in `fmt` (transpose_b, the weight
 * layout) or, for f32, b[j * bjs + k * bks] (any layout).
 *
 * Order of the sum: C(i, j) = ((S_0 + S_1) + S_2) ... where S_t sums the
 * products of K block t in increasing k. It depends only on K, never on the
 * tile or the split of work items.
 */
#ifndef GRAPHC_KERNELS_GEMM_H
#define GRAPHC_KERNELS_GEMM_H

#include "codegen/kernels/kernel_abi.h"
#include "codegen/kernels/quant_blocks.h"

#pragma clang diagnostic ignored "-Wpsabi"

/* MR rows x 2 vectors of accumulators: 16 of 32 zmm registers with
 * AVX-512 (plus 2 for B and the broadcasts), 12 of 16 ymm with AVX2. */
#define GK_MR (GK_VW == 16 ? 8 : 6)
#define GK_NR (2 * GK_VW)
#define GK_KC 256
/* Tile width: a multiple of NR for both vector widths. */
#define GK_NC 64

typedef struct {
  const float *p;
  int64_t rs, ks; /* A(i, k) = p[i * rs + k * ks] */
  int64_t rows;   /* valid rows (M) */
} gk_mat_a;

typedef struct {
  const uint8_t *p;
  int64_t fmt;     /* GK_FMT_*; block formats need the [N, K] layout */
  int64_t js, ks;  /* f32: B(j, k) = ((const float *)p)[j * js + k * ks] */
  int64_t row;     /* block formats: bytes per row of K */
  int64_t cols;    /* valid columns (N) */
} gk_mat_b;

/* Bp[panel][k][jj] = B(j0 + panel*NR + jj, k0 + k), zero beyond N. */
static inline void gk_pack_b(gk_mat_b b, int64_t j0, int64_t nc, int64_t k0, int64_t kc, float *bp,
                             float *scratch) {
  const int64_t panels = (nc + GK_NR - 1) / GK_NR;
  if (b.fmt == GK_FMT_F32 && b.js == 1) {
    /* B stored [K, N]: each k of a panel is NR contiguous floats. */
    const float *src = (const float *)b.p;
    for (int64_t p = 0; p < panels; ++p)
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t jj = 0; jj < GK_NR; ++jj) {
          const int64_t j = j0 + p * GK_NR + jj;
          bp[(p * GK_KC + k) * GK_NR + jj] = j < b.cols ? src[j + (k0 + k) * b.ks] : 0.0f;
        }
    return;
  }
  for (int64_t p = 0; p < panels; ++p)
    for (int64_t jj = 0; jj < GK_NR; ++jj) {
      const int64_t j = j0 + p * GK_NR + jj;
      float *dst = bp + p * GK_KC * GK_NR + jj;
      if (j >= b.cols) {
        for (int64_t k = 0; k < kc; ++k) dst[k * GK_NR] = 0.0f;
        continue;
      }
      const float *src;
      if (b.fmt == GK_FMT_F32 && b.ks == 1) {
        src = (const float *)b.p + j * b.js + k0;
      } else if (b.fmt == GK_FMT_F32) {
        for (int64_t k = 0; k < kc; ++k) scratch[k] = ((const float *)b.p)[j * b.js + (k0 + k) * b.ks];
        src = scratch;
      } else {
        gk_decode_row(b.fmt, b.p + j * b.row, k0, kc, scratch);
        src = scratch;
      }
      for (int64_t k = 0; k < kc; ++k) dst[k * GK_NR] = src[k];
    }
}

/* C[r][j] for the MR x NR block at (i, j): acc over kc, then stored (first K
 * block) or added; only rows < rows and columns < cols are written. */
static inline void gk_micro(const float *const *arow, int64_t aks, const float *bp, int64_t kc, float *c,
                            int64_t ldc, int64_t rows, int64_t cols, int first) {
  gk_vf acc[GK_MR][2];
  for (int r = 0; r < GK_MR; ++r) acc[r][0] = acc[r][1] = gk_splat(0.0f);
  for (int64_t k = 0; k < kc; ++k) {
    const gk_vf b0 = gk_load(bp + k * GK_NR), b1 = gk_load(bp + k * GK_NR + GK_VW);
#pragma clang loop unroll(full)
    for (int r = 0; r < GK_MR; ++r) {
      const gk_vf av = gk_splat(arow[r][k * aks]);
      acc[r][0] += av * b0;
      acc[r][1] += av * b1;
    }
  }
  if (cols == GK_NR) {
    for (int r = 0; r < rows; ++r) {
      float *cr = c + r * ldc;
      if (first) {
        gk_store(cr, acc[r][0]);
        gk_store(cr + GK_VW, acc[r][1]);
      } else {
        gk_store(cr, gk_load(cr) + acc[r][0]);
        gk_store(cr + GK_VW, gk_load(cr + GK_VW) + acc[r][1]);
      }
    }
    return;
  }
  for (int r = 0; r < rows; ++r) {
    float lanes[GK_NR];
    __builtin_memcpy(lanes, &acc[r][0], sizeof acc[r][0]);
    __builtin_memcpy(lanes + GK_VW, &acc[r][1], sizeof acc[r][1]);
    for (int64_t j = 0; j < cols; ++j) c[r * ldc + j] = first ? lanes[j] : c[r * ldc + j] + lanes[j];
  }
}

/* C[i0..i0+mc) x [j0..j0+nc) = A B^T over all of K, nc <= GK_NC; c points
 * at C(i0, j0) with row stride ldc. */
static inline void gk_gemm_tile(gk_mat_a a, gk_mat_b b, int64_t K, int64_t i0, int64_t mc, int64_t j0, int64_t nc,
                                float *c, int64_t ldc) {
  float bp[GK_NC * GK_KC];
  float scratch[GK_KC];
  if (i0 + mc > a.rows) mc = a.rows - i0;
  if (j0 + nc > b.cols) nc = b.cols - j0;
  for (int64_t k0 = 0; k0 < K; k0 += GK_KC) {
    const int64_t kc = K - k0 < GK_KC ? K - k0 : GK_KC;
    gk_pack_b(b, j0, nc, k0, kc, bp, scratch);
    for (int64_t ir = 0; ir < mc; ir += GK_MR) {
      const int64_t rows = mc - ir < GK_MR ? mc - ir : GK_MR;
      /* Rows past M repeat the last row: computed, never stored. */
      const float *arow[GK_MR];
      for (int r = 0; r < GK_MR; ++r) {
        const int64_t i = i0 + ir + (r < rows ? r : rows - 1);
        arow[r] = a.p + i * a.rs + k0 * a.ks;
      }
      for (int64_t jr = 0; jr < nc; jr += GK_NR) {
        const int64_t cols = nc - jr < GK_NR ? nc - jr : GK_NR;
        gk_micro(arow, a.ks, bp + (jr / GK_NR) * GK_KC * GK_NR, kc, c + ir * ldc + jr, ldc, rows, cols, k0 == 0);
      }
    }
  }
}

#endif
