/* The fused ops of Gemma-3's layers: RMSNorm with the (1 + w) gain, rotary
 * embeddings over the halves of the head dim, and grouped-query attention
 * with a boolean mask. f32. */
#include <math.h>

#include "codegen/kernels/kernel_abi.h"

/* sum of a[i] * b[i] in vector lanes, summed pairwise at the end: a fixed
 * order for a given n. */
static inline float gk_dot(const float *a, const float *b, int64_t n) {
  gk_vf a0 = gk_splat(0), a1 = gk_splat(0);
  int64_t i = 0;
  for (; i + 2 * GK_VW <= n; i += 2 * GK_VW) {
    a0 += gk_load(a + i) * gk_load(b + i);
    a1 += gk_load(a + i + GK_VW) * gk_load(b + i + GK_VW);
  }
  for (; i + GK_VW <= n; i += GK_VW) a0 += gk_load(a + i) * gk_load(b + i);
  float s = gk_hsum(a0 + a1);
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

/* y = x * rsqrt(mean(x^2) + eps) * (1 + w) over rows of d; items are rows. */
GK_TEMPLATE void gk_rms_norm_f32(float *y, const float *x, const float *w, int64_t d, float eps, int64_t begin,
                                 int64_t end) {
  for (int64_t row = begin; row < end; ++row) {
    const float *xr = x + row * d;
    float *yr = y + row * d;
    const float ms = gk_dot(xr, xr, d) / (float)d;
    const float inv = 1.0f / sqrtf(ms + eps);
    for (int64_t i = 0; i < d; ++i) yr[i] = (xr[i] * inv) * (1.0f + w[i]);
  }
}

/* [x1 cos - x2 sin, x2 cos + x1 sin] on x [r0, r1, r2, 2 * half]; cos and
 * sin are read at (i0, i1, i2, j) through their own broadcast strides.
 * Items are rows (i0, i1, i2). */
GK_TEMPLATE void gk_rope_f32(float *y, const float *x, const float *cs, const float *sn, int64_t r1, int64_t r2,
                             int64_t half, int64_t c0, int64_t c1, int64_t c2, int64_t c3, int64_t s0, int64_t s1,
                             int64_t s2, int64_t s3, int64_t begin, int64_t end) {
  for (int64_t row = begin; row < end; ++row) {
    const int64_t i2 = row % r2, i1 = (row / r2) % r1, i0 = row / (r2 * r1);
    const float *xr = x + row * 2 * half;
    float *yr = y + row * 2 * half;
    const float *cr = cs + i0 * c0 + i1 * c1 + i2 * c2;
    const float *sr = sn + i0 * s0 + i1 * s1 + i2 * s2;
    for (int64_t j = 0; j < half; ++j) {
      const float c = cr[j * c3], s = sr[j * s3];
      const float x1 = xr[j], x2 = xr[half + j];
      yr[j] = x1 * c - x2 * s;
      yr[half + j] = x2 * c + x1 * s;
    }
  }
}

/* Bounds of the attention kernels' stack scratch: the accumulators of
 * gk_attention_f32 (heads of a pass times value columns, 16 KiB), and per
 * head a running maximum, a sum and the scores of one block of keys. */
enum { GK_ATTENTION_ACC = 4096, GK_ATTENTION_HEADS = 64, GK_ATTENTION_BLOCK = 64 };

/* Dot products of one key row with the query rows of ng heads (at most 4,
 * q_stride apart): the key is loaded once for all of them, and the heads'
 * sums are independent chains. Each sum runs in the order of gk_dot. */
GK_HOT_INLINE void gk_dot_heads(float *out, const float *kj, const float *q, int64_t q_stride, int64_t ng,
                                int64_t hd) {
  gk_vf a0[4], a1[4];
  for (int64_t g = 0; g < ng; ++g) a0[g] = a1[g] = gk_splat(0);
  int64_t i = 0;
  for (; i + 2 * GK_VW <= hd; i += 2 * GK_VW) {
    const gk_vf k0 = gk_load(kj + i), k1 = gk_load(kj + i + GK_VW);
    for (int64_t g = 0; g < ng; ++g) {
      a0[g] += k0 * gk_load(q + g * q_stride + i);
      a1[g] += k1 * gk_load(q + g * q_stride + i + GK_VW);
    }
  }
  for (; i + GK_VW <= hd; i += GK_VW)
    for (int64_t g = 0; g < ng; ++g) a0[g] += gk_load(kj + i) * gk_load(q + g * q_stride + i);
  for (int64_t g = 0; g < ng; ++g) {
    float sum = gk_hsum(a0[g] + a1[g]);
    for (int64_t t = i; t < hd; ++t) sum += kj[t] * q[g * q_stride + t];
    out[g] = sum;
  }
}

/* acc[c] += sum over the block of p[b] * v[b][c] for c < w, the value rows
 * at vb + idx[b] * dv: four vectors of columns stay in registers across the
 * block. */
GK_HOT_INLINE void gk_attention_values(float *acc, const float *p, const float *vb, const int32_t *idx, int64_t nb,
                                       int64_t dv, int64_t w) {
  int64_t c = 0;
  for (; c + 4 * GK_VW <= w; c += 4 * GK_VW) {
    gk_vf r0 = gk_load(acc + c), r1 = gk_load(acc + c + GK_VW);
    gk_vf r2 = gk_load(acc + c + 2 * GK_VW), r3 = gk_load(acc + c + 3 * GK_VW);
    for (int64_t b = 0; b < nb; ++b) {
      const float *vr = vb + idx[b] * dv + c;
      const gk_vf pb = gk_splat(p[b]);
      r0 += pb * gk_load(vr);
      r1 += pb * gk_load(vr + GK_VW);
      r2 += pb * gk_load(vr + 2 * GK_VW);
      r3 += pb * gk_load(vr + 3 * GK_VW);
    }
    gk_store(acc + c, r0);
    gk_store(acc + c + GK_VW, r1);
    gk_store(acc + c + 2 * GK_VW, r2);
    gk_store(acc + c + 3 * GK_VW, r3);
  }
  for (; c < w; ++c)
    for (int64_t b = 0; b < nb; ++b) acc[c] += p[b] * vb[idx[b] * dv + c];
}

/* The online softmax over the visible keys of mask row mrow whose ordinal
 * among the visible ones is in [lo, hi), for ng query heads (rows qg,
 * q_stride apart) and value columns [0, w) of vb (rows dv apart): leaves
 * acc[g * w + c], top[g] (running maximum) and sum[g], unnormalised (top
 * -inf and zero sums when no key is in range). Keys go
 * in blocks of GK_ATTENTION_BLOCK: the scores of a block, then one update of
 * each head's maximum (rescaling what was summed before), then the block's
 * weights and values. */
GK_HOT_INLINE void gk_attention_pass(float *acc, float *top, float *sum, const float *qg, int64_t q_stride, int64_t ng,
                                     const float *kb, int64_t hd, const float *vb, int64_t dv, int64_t w,
                                     const uint8_t *mrow, int64_t m_j, int64_t T, int64_t lo, int64_t hi, float scale) {
  float sc[GK_ATTENTION_HEADS * GK_ATTENTION_BLOCK];
  int32_t idx[GK_ATTENTION_BLOCK];
  for (int64_t g = 0; g < ng; ++g) {
    top[g] = -INFINITY;
    sum[g] = 0;
  }
  for (int64_t c = 0; c < ng * w; ++c) acc[c] = 0;
  int64_t ordinal = 0;
  for (int64_t j = 0; j < T && ordinal < hi;) {
    int64_t nb = 0;
    for (; j < T && nb < GK_ATTENTION_BLOCK && ordinal < hi; ++j)
      if (mrow[j * m_j] && ordinal++ >= lo) idx[nb++] = (int32_t)j;
    if (nb == 0) continue;
    float dots[4];
    for (int64_t b = 0; b < nb; ++b)
      for (int64_t g = 0; g < ng; g += 4) {
        const int64_t m = ng - g < 4 ? ng - g : 4;
        /* A constant head count keeps the sums in registers. */
        if (m == 4)
          gk_dot_heads(dots, kb + idx[b] * hd, qg + g * q_stride, q_stride, 4, hd);
        else
          gk_dot_heads(dots, kb + idx[b] * hd, qg + g * q_stride, q_stride, m, hd);
        for (int64_t t = 0; t < m; ++t) sc[(g + t) * GK_ATTENTION_BLOCK + b] = dots[t] * scale;
      }
    for (int64_t g = 0; g < ng; ++g) {
      float *p = sc + g * GK_ATTENTION_BLOCK;
      float m = top[g];
      for (int64_t b = 0; b < nb; ++b) m = p[b] > m ? p[b] : m;
      if (m > top[g]) {
        /* A new maximum rescales what is summed so far. */
        const float r = gk_expf(top[g] - m);
        sum[g] *= r;
        for (int64_t c = 0; c < w; ++c) acc[g * w + c] *= r;
        top[g] = m;
      }
      for (int64_t b = 0; b < nb; ++b) p[b] = gk_expf(p[b] - m);
      for (int64_t b = 0; b < nb; ++b) sum[g] += p[b];
      gk_attention_values(acc + g * w, p, vb, idx, nb, dv, w);
    }
  }
}

/* A row with every key hidden: the mean of v over all T rows, columns
 * [0, w) (the reference's softmax over equal scores). */
GK_HOT_INLINE void gk_attention_mean(float *o, const float *vb, int64_t dv, int64_t w, int64_t T) {
  for (int64_t c = 0; c < w; ++c) {
    float mean = 0;
    for (int64_t j = 0; j < T; ++j) mean += vb[j * dv + c];
    o[c] = mean / (float)T;
  }
}

/* softmax(select(mask, q k^T * scale, mask_value)) v for q [H, n, hd],
 * k [K, T, hd], v [K, T, dv] (query head h reads KV head h / (H / K)), the
 * mask read at (i, j) with strides (m_i, m_j).
 *
 * Items are (kv, i): every query head of KV head kv at row i. The heads of a
 * group go together so that each key and value row is read once for all of
 * them rather than once per head.
 *
 * Keys the mask hides get weight exp(mask_value - max) = 0 in the reference
 * unless every key is hidden, so they are skipped, which also skips the
 * unused rows of a KV cache; a row with every key hidden averages v, as the
 * reference's softmax over equal scores does. Each output element sees the
 * same operations in the same order for any split of the items. */
GK_TEMPLATE void gk_attention_f32(float *out, const float *q, const float *k, const float *v, const uint8_t *mask,
                                  int64_t H, int64_t n, int64_t hd, int64_t K, int64_t T, int64_t dv, int64_t m_i,
                                  int64_t m_j, float scale, int64_t begin, int64_t end) {
  const int64_t G = H / K;
  /* Heads per pass over the keys: as many as the scratch holds (the
   * lowering keeps dv <= GK_ATTENTION_ACC). */
  int64_t per_pass = G < GK_ATTENTION_HEADS ? G : GK_ATTENTION_HEADS;
  if (per_pass * dv > GK_ATTENTION_ACC) per_pass = GK_ATTENTION_ACC / dv;
  float acc[GK_ATTENTION_ACC], top[GK_ATTENTION_HEADS], sum[GK_ATTENTION_HEADS];
  for (int64_t item = begin; item < end; ++item) {
    const int64_t i = item % n, kv = item / n;
    const float *kb = k + kv * T * hd;
    const float *vb = v + kv * T * dv;
    const uint8_t *mrow = mask + i * m_i;
    int64_t visible = 0;
    for (int64_t j = 0; j < T; ++j) visible += mrow[j * m_j] != 0;
    for (int64_t g0 = 0; g0 < G; g0 += per_pass) {
      const int64_t ng = g0 + per_pass < G ? per_pass : G - g0;
      gk_attention_pass(acc, top, sum, q + ((kv * G + g0) * n + i) * hd, n * hd, ng, kb, hd, vb, dv, dv, mrow, m_j, T,
                        0, visible, scale);
      for (int64_t g = 0; g < ng; ++g) {
        float *o = out + ((kv * G + g0 + g) * n + i) * dv;
        if (visible == 0) {
          gk_attention_mean(o, vb, dv, dv, T);
          continue;
        }
        const float inv = 1.0f / sum[g];
        for (int64_t c = 0; c < dv; ++c) o[c] = acc[g * dv + c] * inv;
      }
    }
  }
}

/* Bytes of gk_attention_split_f32's scratch per (kv, i): a 64-byte counter
 * line, then per half top[G], sum[G], acc[G * dv]. */
static inline int64_t gk_attention_split_part(int64_t G, int64_t dv) { return 64 + 2 * 4 * (2 * G + G * dv); }

/* The attention of gk_attention_f32 for a decode step, with the visible
 * keys of each (kv, i) split in two halves (items (kv, i, half)), so each
 * thread reads half of the KV cache rather than all of the keys and half of
 * the values. Each half leaves its unnormalised sums in `scratch` (one
 * gk_attention_split_part per (kv, i), private to this launch, zero on the
 * first call); the second half to finish, told by a counter there, merges
 * the two, half 0 first whichever finished first, and sets the counter back
 * to 0 for the next call. The lowering uses it for at most 4 (kv, i) and
 * GK_ATTENTION_HEADS heads per group. */
GK_TEMPLATE void gk_attention_split_f32(float *out, const float *q, const float *k, const float *v,
                                        const uint8_t *mask, uint8_t *scratch, int64_t H, int64_t n, int64_t hd,
                                        int64_t K, int64_t T, int64_t dv, int64_t m_i, int64_t m_j, float scale,
                                        int64_t begin, int64_t end) {
  const int64_t G = H / K, part = gk_attention_split_part(G, dv), half_floats = 2 * G + G * dv;
  for (int64_t item = begin; item < end; ++item) {
    const int64_t half = item % 2, r = item / 2, i = r % n, kv = r / n;
    const float *kb = k + kv * T * hd;
    const float *vb = v + kv * T * dv;
    const uint8_t *mrow = mask + i * m_i;
    int64_t visible = 0;
    for (int64_t j = 0; j < T; ++j) visible += mrow[j * m_j] != 0;
    const int64_t mid = (visible + 1) / 2;
    uint8_t *base = scratch + r * part;
    float *mine = (float *)(base + 64) + half * half_floats; /* top[G], sum[G], acc[G * dv] */
    gk_attention_pass(mine + 2 * G, mine, mine + G, q + (kv * G * n + i) * hd, n * hd, G, kb, hd, vb, dv, dv, mrow,
                      m_j, T, half ? mid : 0, half ? visible : mid, scale);
    int32_t *counter = (int32_t *)base;
    if (__atomic_add_fetch(counter, 1, __ATOMIC_ACQ_REL) < 2) continue;
    __atomic_store_n(counter, 0, __ATOMIC_RELAXED);
    const float *h0 = (const float *)(base + 64), *h1 = h0 + half_floats;
    for (int64_t g = 0; g < G; ++g) {
      float *o = out + ((kv * G + g) * n + i) * dv;
      if (visible == 0) {
        gk_attention_mean(o, vb, dv, dv, T);
        continue;
      }
      const float t0 = h0[g], t1 = h1[g], t = t0 > t1 ? t0 : t1;
      /* An empty half has top -inf and weight exp(-inf) = 0. */
      const float r0 = gk_expf(t0 - t), r1 = gk_expf(t1 - t);
      const float inv = 1.0f / (h0[G + g] * r0 + h1[G + g] * r1);
      const float *a0 = h0 + 2 * G + g * dv, *a1 = h1 + 2 * G + g * dv;
      for (int64_t c = 0; c < dv; ++c) o[c] = (a0[c] * r0 + a1[c] * r1) * inv;
    }
  }
}
