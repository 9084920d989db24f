/* GGUF block formats as kernel templates read them: the block layouts, and
 * decoders from a row of blocks to floats.
 *
 * The layouts and formulas are those of ggml's block formats (the GGUF
 * layouts in the project's Gemma-3 reference notes, §4) and
 * runtime/dequantize.cpp (the project's oracle: the tests check these
 * decoders against it bit for bit). A row of K elements is K / block_elems
 * consecutive blocks; rows are consecutive. Blocks sit at any byte offset of
 * a mapped checkpoint (34- and 22-byte blocks are not even 4-byte aligned),
 * so every multi-byte field is read through memcpy, never a typed pointer.
 *
 * Format codes are the GGUF type ids (runtime/ggml_type.h GgmlType), so a
 * lowering passes `static_cast<int64_t>(type)` and the switch below folds
 * away once the JIT has the code as a constant.
 *
 * Usable from any template: include after kernel_abi.h (or on its own: it
 * needs only <stddef.h> and <stdint.h>).
 */
#ifndef GRAPHC_QUANT_BLOCKS_H
#define GRAPHC_QUANT_BLOCKS_H

#include <stddef.h>
#include <stdint.h>

enum {
  GK_FMT_F32 = 0,
  GK_FMT_F16 = 1,
  GK_FMT_Q5_0 = 6,
  GK_FMT_Q8_0 = 8,
  GK_FMT_Q4_K = 12,
  GK_FMT_Q6_K = 14,
  GK_FMT_BF16 = 30,
};

/* d: f16 scale; y = d * qs. */
typedef struct {
  uint8_t d[2];
  int8_t qs[32];
} gk_block_q8_0;

/* d: f16; qh: u32 LE, bit i the fifth bit of element i; qs: byte j holds
 * element j (low nibble) and j + 16 (high). y = d * (q - 16). */
typedef struct {
  uint8_t d[2];
  uint8_t qh[4];
  uint8_t qs[16];
} gk_block_q5_0;

/* 256 elements in 8 sub-blocks of 32, each with a 6-bit scale and min packed
 * in `scales` (gk_k_scale_min). Chunk c of 64 elements reads qs[32c..32c+31]:
 * low nibbles are sub-block 2c, high nibbles 2c + 1. y = d*sc*q - dmin*m. */
typedef struct {
  uint8_t d[2];
  uint8_t dmin[2];
  uint8_t scales[12];
  uint8_t qs[128];
} gk_block_q4_k;

/* 256 elements, two halves of 128; 6-bit q = 4 low bits from ql, 2 high from
 * qh, minus 32; one int8 scale per 16 elements; d is the LAST field. */
typedef struct {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint8_t d[2];
} gk_block_q6_k;

_Static_assert(sizeof(gk_block_q8_0) == 34, "Q8_0 block is 34 bytes");
_Static_assert(sizeof(gk_block_q5_0) == 22, "Q5_0 block is 22 bytes");
_Static_assert(sizeof(gk_block_q4_k) == 144, "Q4_K block is 144 bytes");
_Static_assert(sizeof(gk_block_q6_k) == 210, "Q6_K block is 210 bytes");

static inline uint16_t gk_load_u16(const uint8_t *p) {
  uint16_t v;
  __builtin_memcpy(&v, p, 2);
  return v;
}
static inline uint32_t gk_load_u32(const uint8_t *p) {
  uint32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}
static inline float gk_bits_to_f32(uint32_t u) {
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}

/* bf16 is the upper half of an f32. */
static inline float gk_bf16_to_f32(uint16_t h) { return gk_bits_to_f32((uint32_t)h << 16); }

/* IEEE half to float without F16C or a libcall (the JIT resolves none): move
 * exponent and mantissa into place and multiply by 2^112, which rebiases the
 * exponent (15 -> 127) and turns half subnormals into float normals exactly;
 * infinities and NaNs get the all-ones float exponent. */
static inline float gk_f16_to_f32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t rest = (uint32_t)(h & 0x7fffu) << 13;
  float mag;
  if ((h & 0x7c00u) == 0x7c00u) mag = gk_bits_to_f32(rest | 0x7f800000u);
  else mag = gk_bits_to_f32(rest) * 0x1p112f;
  uint32_t bits;
  __builtin_memcpy(&bits, &mag, 4);
  return gk_bits_to_f32(bits | sign);
}
static inline float gk_load_f16(const uint8_t *p) { return gk_f16_to_f32(gk_load_u16(p)); }

/* Elements and bytes of one block; 0 for formats the kernels do not read. */
static inline int64_t gk_block_elems(int64_t fmt) {
  switch (fmt) {
    case GK_FMT_F32: case GK_FMT_F16: case GK_FMT_BF16: return 1;
    case GK_FMT_Q8_0: case GK_FMT_Q5_0: return 32;
    case GK_FMT_Q4_K: case GK_FMT_Q6_K: return 256;
  }
  return 0;
}
static inline int64_t gk_block_bytes(int64_t fmt) {
  switch (fmt) {
    case GK_FMT_F32: return 4;
    case GK_FMT_F16: case GK_FMT_BF16: return 2;
    case GK_FMT_Q8_0: return 34;
    case GK_FMT_Q5_0: return 22;
    case GK_FMT_Q4_K: return 144;
    case GK_FMT_Q6_K: return 210;
  }
  return 0;
}
/* Bytes of a row of n elements (n a whole number of blocks). */
static inline int64_t gk_row_bytes(int64_t fmt, int64_t n) { return n / gk_block_elems(fmt) * gk_block_bytes(fmt); }

/* ---- One block to floats ---- */

static inline void gk_decode_q8_0(const uint8_t *b, float *y) {
  const gk_block_q8_0 *blk = (const gk_block_q8_0 *)b;
  const float d = gk_load_f16(blk->d);
  for (int j = 0; j < 32; ++j) y[j] = d * (float)blk->qs[j];
}

static inline void gk_decode_q5_0(const uint8_t *b, float *y) {
  const gk_block_q5_0 *blk = (const gk_block_q5_0 *)b;
  const float d = gk_load_f16(blk->d);
  const uint32_t qh = gk_load_u32(blk->qh);
  for (int j = 0; j < 16; ++j) {
    const int lo = (blk->qs[j] & 0xF) | (int)(((qh >> j) & 1u) << 4);
    const int hi = (blk->qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
    y[j] = d * (float)(lo - 16);
    y[j + 16] = d * (float)(hi - 16);
  }
}

/* Scale and min of sub-block j (0..7) from the 12 packed bytes: j < 4 whole
 * in bytes j and j + 4; j >= 4 low nibble/high nibble of byte j + 4 plus the
 * top two bits of bytes j - 4 / j. */
static inline void gk_k_scale_min(const uint8_t *s, int j, int *scale, int *min) {
  if (j < 4) {
    *scale = s[j] & 63;
    *min = s[j + 4] & 63;
  } else {
    *scale = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    *min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

static inline void gk_decode_q4_k(const uint8_t *b, float *y) {
  /* d*sc*q - dmin*m rounded after each operation, as runtime/dequantize.cpp
   * computes it: no fused multiply-add, so the decode is exact to the bit. */
#pragma clang fp contract(off)
  const gk_block_q4_k *blk = (const gk_block_q4_k *)b;
  const float d = gk_load_f16(blk->d), dmin = gk_load_f16(blk->dmin);
  for (int c = 0; c < 4; ++c) {
    int sc_lo, m_lo, sc_hi, m_hi;
    gk_k_scale_min(blk->scales, 2 * c, &sc_lo, &m_lo);
    gk_k_scale_min(blk->scales, 2 * c + 1, &sc_hi, &m_hi);
    const float d_lo = d * (float)sc_lo, min_lo = dmin * (float)m_lo;
    const float d_hi = d * (float)sc_hi, min_hi = dmin * (float)m_hi;
    const uint8_t *q = blk->qs + 32 * c;
    for (int l = 0; l < 32; ++l) {
      y[64 * c + l] = d_lo * (float)(q[l] & 0xF) - min_lo;
      y[64 * c + 32 + l] = d_hi * (float)(q[l] >> 4) - min_hi;
    }
  }
}

static inline void gk_decode_q6_k(const uint8_t *b, float *y) {
  const gk_block_q6_k *blk = (const gk_block_q6_k *)b;
  const float d = gk_load_f16(blk->d);
  for (int half = 0; half < 2; ++half) {
    const uint8_t *ql = blk->ql + 64 * half;
    const uint8_t *qh = blk->qh + 32 * half;
    const int8_t *sc = blk->scales + 8 * half;
    float *yh = y + 128 * half;
    for (int l = 0; l < 32; ++l) {
      const int q0 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32;
      const int q1 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q2 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q3 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      /* Element e has scale sc[e / 16]: l / 16 picks the group in each quarter. */
      yh[l] = d * (float)sc[l / 16] * (float)q0;
      yh[l + 32] = d * (float)sc[2 + l / 16] * (float)q1;
      yh[l + 64] = d * (float)sc[4 + l / 16] * (float)q2;
      yh[l + 96] = d * (float)sc[6 + l / 16] * (float)q3;
    }
  }
}

/* Decodes elements [k0, k0 + n) of a row in format fmt to y. For block
 * formats k0 and n must be whole blocks (the callers step in multiples of
 * 256, or of 32 for the _0 formats). */
static inline void gk_decode_row(int64_t fmt, const uint8_t *row, int64_t k0, int64_t n, float *y) {
  switch (fmt) {
    case GK_FMT_F32:
      __builtin_memcpy(y, row + 4 * k0, (size_t)n * 4);
      return;
    case GK_FMT_BF16:
      for (int64_t i = 0; i < n; ++i) y[i] = gk_bf16_to_f32(gk_load_u16(row + 2 * (k0 + i)));
      return;
    case GK_FMT_F16:
      for (int64_t i = 0; i < n; ++i) y[i] = gk_load_f16(row + 2 * (k0 + i));
      return;
    case GK_FMT_Q8_0:
      for (int64_t b = k0 / 32; b < (k0 + n) / 32; ++b) gk_decode_q8_0(row + 34 * b, y + 32 * b - k0);
      return;
    case GK_FMT_Q5_0:
      for (int64_t b = k0 / 32; b < (k0 + n) / 32; ++b) gk_decode_q5_0(row + 22 * b, y + 32 * b - k0);
      return;
    case GK_FMT_Q4_K:
      for (int64_t b = k0 / 256; b < (k0 + n) / 256; ++b) gk_decode_q4_k(row + 144 * b, y + 256 * b - k0);
      return;
    case GK_FMT_Q6_K:
      for (int64_t b = k0 / 256; b < (k0 + n) / 256; ++b) gk_decode_q6_k(row + 210 * b, y + 256 * b - k0);
      return;
  }
}

#endif
