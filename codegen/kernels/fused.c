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

enum { GK_MAX_HEAD_DIM = 1024 };

/* softmax(select(mask, q k^T * scale, mask_value)) v for q [H, n, hd],
 * k [K, T, hd], v [K, T, dv] (query head h reads KV head h / (H / K)), the
 * mask read at (i, j) with strides (m_i, m_j). Items are (h, i). Keys the
 * mask hides get weight exp(mask_value - max) = 0 in the reference unless
 * every key is hidden, so they are skipped, which also skips the unused
 * rows of a KV cache; a row with every key hidden averages v, as the
 * reference's softmax over equal scores does. Online softmax: one pass over
 * the keys with a running maximum. */
GK_TEMPLATE void gk_attention_f32(float *out, const float *q, const float *k, const float *v, const uint8_t *mask,
                                  int64_t H, int64_t n, int64_t hd, int64_t K, int64_t T, int64_t dv, int64_t m_i,
                                  int64_t m_j, float scale, int64_t begin, int64_t end) {
  const int64_t G = H / K;
  float acc[GK_MAX_HEAD_DIM];
  for (int64_t item = begin; item < end; ++item) {
    const int64_t h = item / n, i = item % n, kv = h / G;
    const float *qi = q + item * hd;
    const float *kb = k + kv * T * hd;
    const float *vb = v + kv * T * dv;
    const uint8_t *mrow = mask + i * m_i;
    float top = -INFINITY, sum = 0;
    for (int64_t c = 0; c < dv; ++c) acc[c] = 0;
    int64_t seen = 0;
    for (int64_t j = 0; j < T; ++j) {
      if (!mrow[j * m_j]) continue;
      ++seen;
      const float s = gk_dot(kb + j * hd, qi, hd) * scale;
      const float *vj = vb + j * dv;
      if (s > top) {
        /* A new maximum rescales what is summed so far. */
        const float r = gk_expf(top - s);
        sum *= r;
        for (int64_t c = 0; c < dv; ++c) acc[c] *= r;
        top = s;
      }
      const float p = gk_expf(s - top);
      sum += p;
      for (int64_t c = 0; c < dv; ++c) acc[c] += p * vj[c];
    }
    float *o = out + item * dv;
    if (seen == 0) {
      for (int64_t c = 0; c < dv; ++c) {
        float m = 0;
        for (int64_t j = 0; j < T; ++j) m += vb[j * dv + c];
        o[c] = m / (float)T;
      }
      continue;
    }
    const float inv = 1.0f / sum;
    for (int64_t c = 0; c < dv; ++c) o[c] = acc[c] * inv;
  }
}
