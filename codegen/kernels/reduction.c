/* Reductions along one axis of [outer, n, inner] (reduce over contiguous
 * axes, softmax, argmax, cumsum) and top-k along the last axis. A work item
 * is one (outer, inner) position, reduced sequentially in index order, so the
 * result never depends on the thread split. */
#include <math.h>

#include "codegen/kernels/kernel_abi.h"

#define GK_REDUCE(T, NAME, INIT, STEP)                                                                      \
  GK_TEMPLATE void gk_reduce_##NAME(T *dst, const T *src, int64_t n, int64_t inner, float scale,            \
                                    int64_t begin, int64_t end) {                                          \
    for (int64_t item = begin; item < end; ++item) {                                                       \
      const int64_t o = item / inner, i = item % inner;                                                    \
      const T *p = src + o * n * inner + i;                                                                \
      T acc = INIT;                                                                                        \
      for (int64_t r = 0; r < n; ++r) {                                                                    \
        const T v = p[r * inner];                                                                          \
        STEP;                                                                                              \
      }                                                                                                    \
      dst[item] = scale == 1.0f ? acc : (T)(acc * scale);                                                   \
    }                                                                                                      \
  }
GK_REDUCE(float, sum_f32, 0.0f, acc += v)
GK_REDUCE(int32_t, sum_i32, 0, acc = (int32_t)((uint32_t)acc + (uint32_t)v))
GK_REDUCE(int64_t, sum_i64, 0, acc = (int64_t)((uint64_t)acc + (uint64_t)v))
/* max propagates NaN, as the reference does. */
GK_REDUCE(float, max_f32, -INFINITY, acc = (isnan(acc) || isnan(v)) ? NAN : (v > acc ? v : acc))
GK_REDUCE(int32_t, max_i32, INT32_MIN, acc = v > acc ? v : acc)
GK_REDUCE(int64_t, max_i64, INT64_MIN, acc = v > acc ? v : acc)

/* NaN counts as larger than every number (argmax, topk). */
static inline int gk_greater(float a, float b) {
  if (isnan(a)) return !isnan(b);
  if (isnan(b)) return 0;
  return a > b;
}

GK_TEMPLATE void gk_softmax_f32(float *dst, const float *src, int64_t n, int64_t inner, int64_t begin, int64_t end) {
  for (int64_t item = begin; item < end; ++item) {
    const int64_t o = item / inner, i = item % inner;
    const float *p = src + o * n * inner + i;
    float *q = dst + o * n * inner + i;
    float top = -INFINITY;
    for (int64_t r = 0; r < n; ++r)
      if (gk_greater(p[r * inner], top)) top = p[r * inner];
    float sum = 0;
    for (int64_t r = 0; r < n; ++r) sum += q[r * inner] = gk_expf(p[r * inner] - top);
    const float inv = 1.0f / sum;
    for (int64_t r = 0; r < n; ++r) q[r * inner] *= inv;
  }
}

/* The first index of the largest element of a contiguous row (greedy
 * decoding over 262144 logits): the largest value in vectors, then the first
 * index holding it. A NaN anywhere makes the first NaN the answer, as
 * gk_greater orders them; -0 and +0 compare equal, so the first zero of
 * either sign wins, as in the sequential scan. */
static inline int64_t gk_argmax_row_f32(const float *p, int64_t n) {
  gk_vf top = gk_splat(-INFINITY);
  gk_vi nan = {0}; /* lanes that saw a NaN: -1 */
  int64_t r = 0;
  for (; r + GK_VW <= n; r += GK_VW) {
    const gk_vf v = gk_load(p + r);
    nan |= v != v;
    top = __builtin_elementwise_max(top, v); /* ignores NaN, tracked apart */
  }
  float best = -INFINITY;
  for (int i = 0; i < GK_VW; ++i) best = top[i] > best ? top[i] : best;
  int any_nan = 0;
  for (int i = 0; i < GK_VW; ++i) any_nan |= nan[i] != 0;
  for (int64_t t = r; t < n; ++t) {
    any_nan |= isnan(p[t]);
    if (p[t] > best) best = p[t];
  }
  if (any_nan) {
    for (int64_t t = 0; t < n; ++t)
      if (isnan(p[t])) return t;
  }
  for (r = 0; r + GK_VW <= n; r += GK_VW) {
    const gk_vi hit = gk_load(p + r) == gk_splat(best);
    int any = 0;
    for (int i = 0; i < GK_VW; ++i) any |= hit[i];
    if (!any) continue;
    for (int i = 0; i < GK_VW; ++i)
      if (hit[i]) return r + i;
  }
  for (; r < n; ++r)
    if (p[r] == best) return r;
  return 0; /* n == 0 */
}

/* The first index of the largest element. */
GK_TEMPLATE void gk_argmax_f32(int32_t *dst, const float *src, int64_t n, int64_t inner, int64_t begin,
                               int64_t end) {
  for (int64_t item = begin; item < end; ++item) {
    const int64_t o = item / inner, i = item % inner;
    const float *p = src + o * n * inner + i;
    if (inner == 1) {
      dst[item] = (int32_t)gk_argmax_row_f32(p, n);
      continue;
    }
    int64_t best = 0;
    for (int64_t r = 1; r < n; ++r)
      if (gk_greater(p[r * inner], p[best * inner])) best = r;
    dst[item] = (int32_t)best;
  }
}

#define GK_CUMSUM(T, NAME)                                                                                  \
  GK_TEMPLATE void gk_cumsum_##NAME(T *dst, const T *src, int64_t n, int64_t inner, int64_t begin,           \
                                    int64_t end) {                                                         \
    for (int64_t item = begin; item < end; ++item) {                                                       \
      const int64_t o = item / inner, i = item % inner;                                                    \
      T acc = 0;                                                                                           \
      for (int64_t r = 0; r < n; ++r) {                                                                    \
        acc += src[(o * n + r) * inner + i];                                                               \
        dst[(o * n + r) * inner + i] = acc;                                                                \
      }                                                                                                    \
    }                                                                                                      \
  }
GK_CUMSUM(float, f32)
GK_CUMSUM(int32_t, i32)
GK_CUMSUM(int64_t, i64)

/* (value, index) a ranks above b: larger value, or equal and lower index. */
static inline int gk_ranks_above(float va, int32_t ia, float vb, int32_t ib) {
  if (gk_greater(va, vb)) return 1;
  if (gk_greater(vb, va)) return 0;
  return ia < ib;
}

/* Sift the heap entry at `at` down (the root holds the lowest ranked). */
static inline void gk_sift_down(float *v, int32_t *ix, int64_t size, int64_t at) {
  for (;;) {
    const int64_t l = 2 * at + 1, r = l + 1;
    int64_t low = at;
    if (l < size && gk_ranks_above(v[low], ix[low], v[l], ix[l])) low = l;
    if (r < size && gk_ranks_above(v[low], ix[low], v[r], ix[r])) low = r;
    if (low == at) return;
    const float tv = v[at];
    const int32_t ti = ix[at];
    v[at] = v[low];
    ix[at] = ix[low];
    v[low] = tv;
    ix[low] = ti;
    at = low;
  }
}

/* The k highest ranked of each row of n, in descending rank: a min-heap of
 * the best k so far held in the outputs, then a heap sort. */
GK_TEMPLATE void gk_topk_f32(float *values, int32_t *indices, const float *src, int64_t n, int64_t k,
                             int64_t begin, int64_t end) {
  for (int64_t row = begin; row < end; ++row) {
    const float *p = src + row * n;
    float *v = values + row * k;
    int32_t *ix = indices + row * k;
    for (int64_t j = 0; j < k; ++j) {
      v[j] = p[j];
      ix[j] = (int32_t)j;
    }
    for (int64_t j = k / 2 - 1; j >= 0; --j) gk_sift_down(v, ix, k, j);
    for (int64_t j = k; j < n; ++j)
      if (gk_ranks_above(p[j], (int32_t)j, v[0], ix[0])) {
        v[0] = p[j];
        ix[0] = (int32_t)j;
        gk_sift_down(v, ix, k, 0);
      }
    /* Heap sort: the lowest ranked goes to the end each time. */
    for (int64_t size = k; size > 1; --size) {
      const float tv = v[0];
      const int32_t ti = ix[0];
      v[0] = v[size - 1];
      ix[0] = ix[size - 1];
      v[size - 1] = tv;
      ix[size - 1] = ti;
      gk_sift_down(v, ix, size - 1, 0);
    }
  }
}
