/* Row dots for decode: out[m] = sum_k x[m, k] * w[k] for M <= 4 activation
 * rows against one weight row w, the building block of the matvec and decode
 * geglu templates (matvec.c, geglu.c).
 *
 * Two families:
 *  - portable (generic vectors): f32 and bf16 rows are read directly; block
 *    formats are decoded to floats (quant_blocks.h) into a scratch row first.
 *    The sum is f32 in a fixed order.
 *  - VNNI (AVX-512 BW/VL + VNNI, chosen by the lowering when the host has
 *    them): x is quantized to int8 once per call, like ggml's Q8_0 (blocks of
 *    32, for Q8_0/Q5_0 weights) or Q8_K (blocks of 256, for Q4_K/Q6_K), and
 *    each weight block is dotted in integers with vpdpbusd / vpmaddubsw, then
 *    scaled by d_w * d_x in f32. The error against the exact product is that
 *    of rounding x to 8 bits: at most sum_k |w_k| * amax_block(x) / 254.
 *
 * vpdpbusd multiplies unsigned by signed bytes. Q8_0 and Q5_0 weights go
 * in as unsigned codes (sign bit flipped, or the 5-bit code itself) and the
 * offset they carry is taken back through the start value, from the sums of
 * x (gk_qx). Q4_K's unsigned nibbles go in directly and its mins are a
 * separate sum over per-32 sums of x. Q6_K uses |w| times sign(w) * x
 * (vpsignb) with vpmaddubsw.
 *
 * Every reduction is in a fixed order that depends only on K, so the result
 * of a row never depends on how the runtime splits the rows.
 */
#ifndef GRAPHC_KERNELS_MATVEC_H
#define GRAPHC_KERNELS_MATVEC_H

#include <immintrin.h>

#include "codegen/kernels/kernel_abi.h"

/* Vectors passed between inlined helpers: the ABI note clang gives for
 * targets without AVX does not apply (everything is inlined, and the JIT
 * compiles for the host). */
#pragma clang diagnostic ignored "-Wpsabi"
#include "codegen/kernels/quant_blocks.h"

/* The most activation rows a matvec handles at once (decode and small
 * batches); the lowering sends larger M to the GEMM. */
#define GK_MV_MAX_M 4

typedef uint16_t gk_vh __attribute__((vector_size(GK_VW * sizeof(uint16_t))));

static inline gk_vf gk_load_bf16(const uint8_t *p) {
  gk_vh h;
  __builtin_memcpy(&h, p, sizeof h);
  const gk_vu u = __builtin_convertvector(h, gk_vu) << 16;
  return (gk_vf)u;
}

/* out[m] = x[m, :] . w for an f32 (fmt F32) or bf16 (fmt BF16) row. U
 * independent accumulators per activation row hide the FMA latency; the
 * lanes and accumulators are combined in one fixed order. */
GK_HOT_INLINE void gk_mv_dot_float_row(int64_t fmt, const float *x, const uint8_t *w, int64_t M, int64_t K,
                                       float *out) {
  enum { U = 4 };
  gk_vf acc[GK_MV_MAX_M][U];
  for (int m = 0; m < GK_MV_MAX_M; ++m)
    for (int u = 0; u < U; ++u) acc[m][u] = gk_splat(0.0f);
  const int64_t step = (int64_t)U * GK_VW;
  int64_t k = 0;
  for (; k + step <= K; k += step) {
    for (int u = 0; u < U; ++u) {
      const int64_t kk = k + (int64_t)u * GK_VW;
      const gk_vf wv = fmt == GK_FMT_BF16 ? gk_load_bf16(w + 2 * kk) : gk_load((const float *)w + kk);
      for (int m = 0; m < M; ++m) acc[m][u] += gk_load(x + m * K + kk) * wv;
    }
  }
  for (; k + GK_VW <= K; k += GK_VW) {
    const gk_vf wv = fmt == GK_FMT_BF16 ? gk_load_bf16(w + 2 * k) : gk_load((const float *)w + k);
    for (int m = 0; m < M; ++m) acc[m][0] += gk_load(x + m * K + k) * wv;
  }
  for (int m = 0; m < M; ++m) {
    float tail = 0.0f;
    for (int64_t t = k; t < K; ++t) {
      float wt;
      if (fmt == GK_FMT_BF16) wt = gk_bf16_to_f32(gk_load_u16(w + 2 * t));
      else __builtin_memcpy(&wt, w + 4 * t, 4);
      tail += x[m * K + t] * wt;
    }
    out[m] = gk_hsum((acc[m][0] + acc[m][1]) + (acc[m][2] + acc[m][3])) + tail;
  }
}

/* Any format: f32/bf16 directly, others decoded into `scratch` (K floats). */
GK_HOT_INLINE void gk_mv_dot_row(int64_t fmt, const float *x, const uint8_t *w, int64_t M, int64_t K, float *scratch,
                                 float *out) {
  if (fmt == GK_FMT_F32 || fmt == GK_FMT_BF16) {
    gk_mv_dot_float_row(fmt, x, w, M, K, out);
    return;
  }
  gk_decode_row(fmt, w, 0, K, scratch);
  gk_mv_dot_float_row(GK_FMT_F32, x, (const uint8_t *)scratch, M, K, out);
}

/* ------------------------------------------------------------------------ */
/* VNNI: integer dots against int8-quantized activations.                   */

#define GK_VNNI_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

/* Elements per activation scale for a weight format: 32 for the _0 formats,
 * 256 (one Q8_K-style scale per super-block) for the K-quants. */
static inline int64_t gk_qx_block(int64_t fmt) { return fmt == GK_FMT_Q4_K || fmt == GK_FMT_Q6_K ? 256 : 32; }

/* x quantized: q[m*K + k] int8, d[m*(K/QB) + b] the scale of block b of row m
 * (x ~ d * q), bsum[m*(K/32) + j] the sum of q over elements 32j..32j+31.
 * fmt is the weight format the dots are for; two of them read more:
 *  - Q8_0: bias[8*(m*(K/32) + j) + l], l = 0..7, is -128 * bsum_j / 8, the
 *    start of each of the 8 int32 lanes of a block's dot
 *    (gk_mv_dot_row_q8_0).
 *  - Q5_0: gk_mv_dot_row_q5_0 dots two blocks per 256-bit register, so q is
 *    stored in pair order: each pair of 32-blocks (64 elements) as [block 2p
 *    elements 0-15, block 2p+1 elements 0-15, block 2p elements 16-31, block
 *    2p+1 elements 16-31]; an odd last block stays in natural order.
 *    bias[4*(m*(K/32) + j) + l], l = 0..3, is -16 * bsum_j / 4, spread over
 *    the 4 int32 lanes a block has in that dot.
 * The biases are stored rather than derived in the dot: one load each (a
 * Q5_0 dot that derived them per block took 13% longer). */
typedef struct {
  int8_t *q;
  float *d;
  int32_t *bsum;
  int32_t *bias; /* room for 8 * M * (K/32) */
  int64_t qb;
  int64_t fmt;
} gk_qx;

/* Where element j (0-31) of 32-block b of a row of nb blocks goes in
 * qx.q: see gk_qx. */
static inline int64_t gk_q5_pair_slot(int64_t b, int64_t j, int64_t nb) {
  if (b == nb - 1 && nb % 2 == 1) return 32 * b + j;
  return 64 * (b / 2) + 32 * (j / 16) + 16 * (b % 2) + j % 16;
}

/* Quantizes M rows of K (K a multiple of qb, qb a multiple of 32) with
 * d = amax / 127 and q = round-to-nearest-even(x / d). */
GK_VNNI_TARGET static inline void gk_quantize_x(const float *x, int64_t M, int64_t K, gk_qx qx) {
  const int64_t nb = K / qx.qb;
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t b = 0; b < nb; ++b) {
      const float *xb = x + m * K + b * qx.qb;
      __m512 amax = _mm512_setzero_ps();
      for (int64_t i = 0; i < qx.qb; i += 16) amax = _mm512_max_ps(amax, _mm512_abs_ps(_mm512_loadu_ps(xb + i)));
      const float a = _mm512_reduce_max_ps(amax);
      const float inv = a > 0.0f ? 127.0f / a : 0.0f;
      qx.d[m * nb + b] = a / 127.0f;
      const __m512 vinv = _mm512_set1_ps(inv);
      for (int64_t i = 0; i < qx.qb; i += 32) {
        const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xb + i), vinv));
        const __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xb + i + 16), vinv));
        const int64_t blk = (b * qx.qb + i) / 32;
        const int pairs = qx.fmt == GK_FMT_Q5_0;
        int8_t *lo = qx.q + m * K + (pairs ? gk_q5_pair_slot(blk, 0, K / 32) : 32 * blk);
        int8_t *hi = qx.q + m * K + (pairs ? gk_q5_pair_slot(blk, 16, K / 32) : 32 * blk + 16);
        _mm_storeu_si128((__m128i *)lo, _mm512_cvtsepi32_epi8(q0));
        _mm_storeu_si128((__m128i *)hi, _mm512_cvtsepi32_epi8(q1));
        /* Sum of the saturated values, as the dots see them. */
        const __m512i s = _mm512_add_epi32(_mm512_max_epi32(_mm512_min_epi32(q0, _mm512_set1_epi32(127)),
                                                            _mm512_set1_epi32(-128)),
                                           _mm512_max_epi32(_mm512_min_epi32(q1, _mm512_set1_epi32(127)),
                                                            _mm512_set1_epi32(-128)));
        const int32_t sum = _mm512_reduce_add_epi32(s);
        qx.bsum[m * (K / 32) + blk] = sum;
        if (pairs)
          for (int l = 0; l < 4; ++l) qx.bias[4 * (m * (K / 32) + blk) + l] = -4 * sum;
        if (qx.fmt == GK_FMT_Q8_0)
          for (int l = 0; l < 8; ++l) qx.bias[8 * (m * (K / 32) + blk) + l] = -16 * sum;
      }
    }
  }
}

GK_VNNI_TARGET static inline float gk_hsum8(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

/* Q8_0: 32 signed weights and an f16 scale per block; x has one scale per
 * 32 too. vpdpbusd wants one side unsigned: flipping the weights' sign bit
 * gives w + 128, and sum_k (w_k + 128) x_k = sum_k w_k x_k + 128 bsum, so
 * each of the 8 lanes of a block's dot starts from -16 bsum (gk_qx) and the
 * dot is exact with one XOR per block, where an abs/sign pair was needed
 * before. Even and odd blocks go to two accumulators (one FMA chain would
 * make the FMA latency the bound), added once at the end. Handles M > 1;
 * one activation row takes gk_mv_dot_q8_0_m1. */
/* A Q8_0 block's codes as vpdpbusd's unsigned side: w + 128. */
GK_VNNI_TARGET static inline __m256i gk_q8_0_codes(const gk_block_q8_0 *blk) {
  return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)blk->qs), _mm256_set1_epi8((char)0x80));
}

/* Block b's exact integer dot with row m's x in 8 int32 lanes, from the
 * codes of gk_q8_0_codes. */
GK_VNNI_TARGET static inline __m256i gk_q8_0_dot(gk_qx qx, int64_t m, int64_t K, int64_t b, __m256i codes) {
  const __m256i start = _mm256_loadu_si256((const __m256i *)(qx.bias + 8 * (m * (K / 32) + b)));
  return _mm256_dpbusd_epi32(start, codes, _mm256_loadu_si256((const __m256i *)(qx.q + m * K + 32 * b)));
}

GK_VNNI_TARGET GK_HOT_INLINE void gk_mv_dot_row_q8_0(gk_qx qx, const uint8_t *w, int64_t M, int64_t K, float *out) {
  __m256 acc[GK_MV_MAX_M][2];
  for (int m = 0; m < GK_MV_MAX_M; ++m) acc[m][0] = acc[m][1] = _mm256_setzero_ps();
  const int64_t nb = K / 32;
  for (int64_t b = 0; b < nb; ++b) {
    const gk_block_q8_0 *blk = (const gk_block_q8_0 *)(w + 34 * b);
    const float dw = _cvtsh_ss(gk_load_u16(blk->d));
    const __m256i codes = gk_q8_0_codes(blk);
    for (int m = 0; m < M; ++m) {
      const __m256 p = _mm256_cvtepi32_ps(gk_q8_0_dot(qx, m, K, b, codes));
      acc[m][b & 1] = _mm256_fmadd_ps(p, _mm256_set1_ps(dw * qx.d[m * nb + b]), acc[m][b & 1]);
    }
  }
  for (int m = 0; m < M; ++m) out[m] = gk_hsum8(_mm256_add_ps(acc[m][0], acc[m][1]));
}

/* Q5_0: 5-bit codes q in [0, 31] standing for q - 16. The offset is folded
 * into the integer dot, sum_k (q_k - 16) x_k = sum_k q_k x_k - 16 bsum, so
 * vpdpbusd takes the codes as they are (unsigned) and starts from the bias
 * (gk_qx): no abs/sign pair per block. Two blocks share a register: the 16
 * code bytes of each fill one 128-bit half, one AND gives both blocks'
 * elements 0-15 and a shift and AND their elements 16-31 (x is stored in
 * the matching pair order); the fifth bits are masked adds. Lanes 0-3 of
 * the dot are the first block, lanes 4-7 the second, each scaled by its own
 * d_w * d_x. Against one block per register this is 15% fewer cycles per
 * block (1.18 -> 1.01 ns, one thread, in L2). The f16 scales of four blocks
 * are converted together; the two pairs of a four-block step go to two
 * accumulators (one FMA chain would make its latency the bound), added once
 * at the end. A block's integer dot is exact; the f32 rounding of the
 * scaled sums depends on this lane layout. */
GK_VNNI_TARGET static inline void gk_q5_0_pair_codes(const uint8_t *b0, __m256i *lo, __m256i *hi) {
  const gk_block_q5_0 *x0 = (const gk_block_q5_0 *)b0, *x1 = (const gk_block_q5_0 *)(b0 + 22);
  const __m256i qs = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)x0->qs)),
                                             _mm_loadu_si128((const __m128i *)x1->qs), 1);
  const uint32_t h0 = gk_load_u32(x0->qh), h1 = gk_load_u32(x1->qh);
  const __m256i low4 = _mm256_set1_epi8(0xF), sixteen = _mm256_set1_epi8(16);
  const __m256i l = _mm256_and_si256(qs, low4), h = _mm256_and_si256(_mm256_srli_epi16(qs, 4), low4);
  *lo = _mm256_mask_add_epi8(l, (__mmask32)((h0 & 0xFFFFu) | h1 << 16), l, sixteen);
  *hi = _mm256_mask_add_epi8(h, (__mmask32)(h0 >> 16 | (h1 & 0xFFFF0000u)), h, sixteen);
}

/* The dot of a pair's codes (lo, hi) with row m's x, b the pair's first
 * block; lanes 0-3 hold the first block's sum, 4-7 the second's. */
GK_VNNI_TARGET static inline __m256 gk_q5_0_pair_dot(gk_qx qx, int64_t m, int64_t K, int64_t b, __m256i lo,
                                                      __m256i hi) {
  const int8_t *xq = qx.q + m * K + 32 * b;
  const __m256i start = _mm256_loadu_si256((const __m256i *)(qx.bias + 4 * (m * (K / 32) + b)));
  const __m256i dot = _mm256_dpbusd_epi32(start, lo, _mm256_loadu_si256((const __m256i *)xq));
  return _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(dot, hi, _mm256_loadu_si256((const __m256i *)(xq + 32))));
}

GK_VNNI_TARGET GK_HOT_INLINE void gk_mv_dot_row_q5_0(gk_qx qx, const uint8_t *w, int64_t M, int64_t K, float *out) {
  __m256 acc[GK_MV_MAX_M][2];
  for (int m = 0; m < GK_MV_MAX_M; ++m) acc[m][0] = acc[m][1] = _mm256_setzero_ps();
  const int64_t nb = K / 32;
  const __m256i first = _mm256_set_epi32(1, 1, 1, 1, 0, 0, 0, 0), second = _mm256_set_epi32(3, 3, 3, 3, 2, 2, 2, 2);
  int64_t b = 0;
  for (; b + 4 <= nb; b += 4) {
    const uint8_t *p = w + 22 * b;
    const uint64_t bits = (uint64_t)gk_load_u16(p) | (uint64_t)gk_load_u16(p + 22) << 16 |
                          (uint64_t)gk_load_u16(p + 44) << 32 | (uint64_t)gk_load_u16(p + 66) << 48;
    const __m128 dw = _mm_cvtph_ps(_mm_cvtsi64_si128((long long)bits));
    __m256i lo[2], hi[2];
    gk_q5_0_pair_codes(p, &lo[0], &hi[0]);
    gk_q5_0_pair_codes(p + 44, &lo[1], &hi[1]);
    for (int m = 0; m < M; ++m) {
      const __m256 s = _mm256_castps128_ps256(_mm_mul_ps(dw, _mm_loadu_ps(qx.d + m * nb + b)));
      acc[m][0] = _mm256_fmadd_ps(gk_q5_0_pair_dot(qx, m, K, b, lo[0], hi[0]), _mm256_permutexvar_ps(first, s),
                                  acc[m][0]);
      acc[m][1] = _mm256_fmadd_ps(gk_q5_0_pair_dot(qx, m, K, b + 2, lo[1], hi[1]),
                                  _mm256_permutexvar_ps(second, s), acc[m][1]);
    }
  }
  if (b + 2 <= nb) {
    const uint8_t *p = w + 22 * b;
    const float d0 = _cvtsh_ss(gk_load_u16(p)), d1 = _cvtsh_ss(gk_load_u16(p + 22));
    __m256i lo, hi;
    gk_q5_0_pair_codes(p, &lo, &hi);
    for (int m = 0; m < M; ++m) {
      const __m256 s = _mm256_set_m128(_mm_set1_ps(d1 * qx.d[m * nb + b + 1]), _mm_set1_ps(d0 * qx.d[m * nb + b]));
      acc[m][0] = _mm256_fmadd_ps(gk_q5_0_pair_dot(qx, m, K, b, lo, hi), s, acc[m][0]);
    }
    b += 2;
  }
  if (b < nb) {
    /* The odd last block, in natural order: its -16 bsum over 8 lanes. */
    const gk_block_q5_0 *blk = (const gk_block_q5_0 *)(w + 22 * b);
    const float dw = _cvtsh_ss(gk_load_u16(blk->d));
    const __m256i qs = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)blk->qs));
    const __m256i by4 = _mm256_set_epi64x(0x0004000400040004LL, 0x0004000400040004LL, 0, 0);
    const __m256i nib = _mm256_and_si256(_mm256_srlv_epi16(qs, by4), _mm256_set1_epi8(0xF));
    const __m256i q = _mm256_mask_add_epi8(nib, (__mmask32)gk_load_u32(blk->qh), nib, _mm256_set1_epi8(16));
    for (int m = 0; m < M; ++m) {
      const __m256i xv = _mm256_loadu_si256((const __m256i *)(qx.q + m * K + 32 * b));
      const __m256i dot = _mm256_dpbusd_epi32(_mm256_set1_epi32(-2 * qx.bsum[m * nb + b]), q, xv);
      acc[m][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(dw * qx.d[m * nb + b]), acc[m][1]);
    }
  }
  for (int m = 0; m < M; ++m) out[m] = gk_hsum8(_mm256_add_ps(acc[m][0], acc[m][1]));
}

/* Q4_K: per sub-block j of 32, sum_k (d sc_j q_k - dmin m_j) dx qx_k
 *   = d dx sum_j sc_j (q . qx)_j - dmin dx sum_j m_j bsum_j.
 * The 6-bit scales and mins of a super-block are unpacked together from its
 * three 32-bit words into one vector of 16-bit lanes [sc_0..7, m_0..7], so
 * the per-block work is vector work: vpmaddubsw takes codes times x to
 * pairs (at most 2 * 15 * 128, no saturation), vpmaddwd weights the pairs
 * by the sub-block's scale (a vpermw of that vector), and the mins' term
 * is one 8-lane product per block (m_j bsum_j at most 63 * 4064, exact in
 * f32), scaled and summed in f32 lanes beside the main sum. */
GK_VNNI_TARGET GK_HOT_INLINE void gk_mv_dot_row_q4_k(gk_qx qx, const uint8_t *w, int64_t M, int64_t K, float *out) {
  __m256 acc[GK_MV_MAX_M], macc[GK_MV_MAX_M];
  for (int m = 0; m < GK_MV_MAX_M; ++m) acc[m] = macc[m] = _mm256_setzero_ps();
  const int64_t nb = K / 256;
  const __m256i low4 = _mm256_set1_epi8(0xF);
  for (int64_t b = 0; b < nb; ++b) {
    const gk_block_q4_k *blk = (const gk_block_q4_k *)(w + 144 * b);
    const float d = _cvtsh_ss(gk_load_u16(blk->d)), dmin = _cvtsh_ss(gk_load_u16(blk->dmin));
    /* gk_k_scale_min for all j: bytes 0-3 hold sc_0..3 and the top bits
     * of sc_4..7, bytes 4-7 m_0..3 and the top bits of m_4..7, bytes 8-11
     * the low nibbles of sc_4..7 and (high nibbles) of m_4..7. */
    const uint32_t u0 = gk_load_u32(blk->scales), u1 = gk_load_u32(blk->scales + 4), u2 = gk_load_u32(blk->scales + 8);
    const uint32_t sc_lo = u0 & 0x3f3f3f3fu, mn_lo = u1 & 0x3f3f3f3fu;
    const uint32_t sc_hi = (u2 & 0x0f0f0f0fu) | ((u0 >> 2) & 0x30303030u);
    const uint32_t mn_hi = ((u2 >> 4) & 0x0f0f0f0fu) | ((u1 >> 2) & 0x30303030u);
    const __m128i packed = _mm_set_epi32((int)mn_hi, (int)mn_lo, (int)sc_hi, (int)sc_lo);
    const __m256i sm16 = _mm256_cvtepu8_epi16(packed);
    const __m256i mn32 = _mm256_cvtepu8_epi32(_mm_srli_si128(packed, 8));
    __m256i isum[GK_MV_MAX_M];
    for (int m = 0; m < GK_MV_MAX_M; ++m) isum[m] = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      const __m256i q = _mm256_loadu_si256((const __m256i *)(blk->qs + 32 * c));
      const __m256i lo = _mm256_and_si256(q, low4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
      const __m256i sc_lo_v = _mm256_permutexvar_epi16(_mm256_set1_epi16((short)(2 * c)), sm16);
      const __m256i sc_hi_v = _mm256_permutexvar_epi16(_mm256_set1_epi16((short)(2 * c + 1)), sm16);
      for (int m = 0; m < M; ++m) {
        const int8_t *xq = qx.q + m * K + 256 * b + 64 * c;
        const __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)xq));
        const __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(xq + 32)));
        isum[m] = _mm256_add_epi32(isum[m],
                                   _mm256_add_epi32(_mm256_madd_epi16(plo, sc_lo_v), _mm256_madd_epi16(phi, sc_hi_v)));
      }
    }
    for (int m = 0; m < M; ++m) {
      const float dx = qx.d[m * nb + b];
      const __m256i bs = _mm256_loadu_si256((const __m256i *)(qx.bsum + m * (K / 32) + 8 * b));
      acc[m] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[m]), _mm256_set1_ps(d * dx), acc[m]);
      macc[m] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_mullo_epi32(mn32, bs)), _mm256_set1_ps(dmin * dx), macc[m]);
    }
  }
  for (int m = 0; m < M; ++m) out[m] = gk_hsum8(acc[m]) - gk_hsum8(macc[m]);
}

/* Q6_K: signed 6-bit weights (q - 32) with one int8 scale per 16; vpmaddubsw
 * gives sums of pairs (int16, at most 2*32*127), vpmaddwd weights them by the
 * scale of their 16-element group and sums to int32. */
GK_VNNI_TARGET GK_HOT_INLINE void gk_mv_dot_row_q6_k(gk_qx qx, const uint8_t *w, int64_t M, int64_t K, float *out) {
  __m256 acc[GK_MV_MAX_M];
  for (int m = 0; m < GK_MV_MAX_M; ++m) acc[m] = _mm256_setzero_ps();
  const int64_t nb = K / 256;
  const __m256i low4 = _mm256_set1_epi8(0xF), bits45 = _mm256_set1_epi8(0x30);
  for (int64_t b = 0; b < nb; ++b) {
    const gk_block_q6_k *blk = (const gk_block_q6_k *)(w + 210 * b);
    const float d = _cvtsh_ss(gk_load_u16(blk->d));
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)blk->scales));
    __m256i isum[GK_MV_MAX_M];
    for (int m = 0; m < GK_MV_MAX_M; ++m) isum[m] = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      const __m256i qh = _mm256_loadu_si256((const __m256i *)(blk->qh + 32 * half));
      const __m256i ql0 = _mm256_loadu_si256((const __m256i *)(blk->ql + 64 * half));
      const __m256i ql1 = _mm256_loadu_si256((const __m256i *)(blk->ql + 64 * half + 32));
      __m256i q[4];
      q[0] = _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), bits45));
      q[1] = _mm256_or_si256(_mm256_and_si256(ql1, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), bits45));
      q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4), _mm256_and_si256(qh, bits45));
      q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                             _mm256_and_si256(_mm256_srli_epi16(qh, 2), bits45));
      for (int k = 0; k < 4; ++k) {
        const int g = 8 * half + 2 * k; /* scale groups g (elements 0-15) and g + 1 */
        const __m256i scv = _mm256_permutexvar_epi16(_mm256_set_m128i(_mm_set1_epi16((short)(g + 1)),
                                                                      _mm_set1_epi16((short)g)), sc16);
        const __m256i ws = _mm256_sub_epi8(q[k], _mm256_set1_epi8(32));
        const __m256i aw = _mm256_abs_epi8(ws);
        for (int m = 0; m < M; ++m) {
          const __m256i xv = _mm256_loadu_si256((const __m256i *)(qx.q + m * K + 256 * b + 128 * half + 32 * k));
          const __m256i p16 = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(xv, ws));
          isum[m] = _mm256_add_epi32(isum[m], _mm256_madd_epi16(p16, scv));
        }
      }
    }
    for (int m = 0; m < M; ++m)
      acc[m] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[m]), _mm256_set1_ps(d * qx.d[m * nb + b]), acc[m]);
  }
  for (int m = 0; m < M; ++m) out[m] = gk_hsum8(acc[m]);
}

/* Q8_0 against one activation row (the tied LM head of decode: 262144 rows,
 * half of a Q4_K_M decode step): two blocks per 512-bit register, each with
 * the sign-flip and start value of gk_mv_dot_row_q8_0. Against the abs and
 * masked negation it replaced, the LM head ran 7.1-7.7 -> 6.6-8.0 ms on one
 * thread and 3.9-4.9 -> 3.3-3.4 ms on two (bench_kernels, cold weights,
 * alternating runs): with two threads at the guest's best bandwidth this
 * kernel is compute-bound. Even pairs and odd pairs go to two accumulators,
 * summed once at the end (a fixed order). */
GK_VNNI_TARGET GK_HOT_INLINE float gk_mv_dot_q8_0_m1(gk_qx qx, const uint8_t *w, int64_t K) {
  const int64_t nb = K / 32;
  __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
  const __m512i flip = _mm512_set1_epi8((char)0x80);
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    const gk_block_q8_0 *b0 = (const gk_block_q8_0 *)(w + 34 * b);
    const gk_block_q8_0 *b1 = (const gk_block_q8_0 *)(w + 34 * (b + 1));
    const __m512i wv = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)b0->qs)),
                                          _mm256_loadu_si256((const __m256i *)b1->qs), 1);
    const __m512i xv = _mm512_loadu_si512((const void *)(qx.q + 32 * b));
    const __m512i start = _mm512_loadu_si512((const void *)(qx.bias + 8 * b));
    const __m512 p = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(start, _mm512_xor_si512(wv, flip), xv));
    const float s0 = _cvtsh_ss(gk_load_u16(b0->d)) * qx.d[b], s1 = _cvtsh_ss(gk_load_u16(b1->d)) * qx.d[b + 1];
    const __m512 scale = _mm512_mask_blend_ps((__mmask16)0xFF00, _mm512_set1_ps(s0), _mm512_set1_ps(s1));
    acc[(b >> 1) & 1] = _mm512_fmadd_ps(p, scale, acc[(b >> 1) & 1]);
  }
  float tail = 0.0f;
  if (b < nb) {
    const gk_block_q8_0 *blk = (const gk_block_q8_0 *)(w + 34 * b);
    const __m256 p = _mm256_cvtepi32_ps(gk_q8_0_dot(qx, 0, K, b, gk_q8_0_codes(blk)));
    tail = gk_hsum8(p) * (_cvtsh_ss(gk_load_u16(blk->d)) * qx.d[b]);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1])) + tail;
}

/* One weight row in a block format against the quantized activations. */
GK_VNNI_TARGET GK_HOT_INLINE void gk_mv_dot_row_vnni(int64_t fmt, gk_qx qx, const uint8_t *w, int64_t M, int64_t K,
                                                     float *out) {
  if (fmt == GK_FMT_Q8_0 && M == 1) out[0] = gk_mv_dot_q8_0_m1(qx, w, K);
  else if (fmt == GK_FMT_Q4_K) gk_mv_dot_row_q4_k(qx, w, M, K, out);
  else if (fmt == GK_FMT_Q6_K) gk_mv_dot_row_q6_k(qx, w, M, K, out);
  else if (fmt == GK_FMT_Q5_0) gk_mv_dot_row_q5_0(qx, w, M, K, out);
  else gk_mv_dot_row_q8_0(qx, w, M, K, out);
}

#endif
