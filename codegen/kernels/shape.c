/* Data movement: strided copies (transpose, broadcast, slice), concat,
 * dynamic slices and updates, gather. Element sizes 1, 2, 4 and 8 bytes get
 * their own templates so the copies are typed loads and stores. */
#include "codegen/kernels/kernel_abi.h"
#include "codegen/kernels/quant_blocks.h"

/* Up to six dims, outermost first; unused leading dims are 1. A work item is
 * one output row (the innermost dim); dst is contiguous, src element
 * (i0..i5) is at src_offset + sum(ik * sk). Transpose, broadcast (stride 0)
 * and static slices (offset, strides) are all this. */
#define GK_STRIDED_COPY(T, SUFFIX)                                                                            \
  GK_TEMPLATE void gk_strided_copy_##SUFFIX(T *dst, const T *src, int64_t src_offset, int64_t d0, int64_t d1, \
                                            int64_t d2, int64_t d3, int64_t d4, int64_t d5, int64_t s0,       \
                                            int64_t s1, int64_t s2, int64_t s3, int64_t s4, int64_t s5,       \
                                            int64_t begin, int64_t end) {                                     \
    for (int64_t row = begin; row < end; ++row) {                                                             \
      int64_t r = row;                                                                                        \
      const int64_t i4 = r % d4; r /= d4;                                                                     \
      const int64_t i3 = r % d3; r /= d3;                                                                     \
      const int64_t i2 = r % d2; r /= d2;                                                                     \
      const int64_t i1 = r % d1; r /= d1;                                                                     \
      const int64_t i0 = r;                                                                                   \
      const T *from = src + src_offset + i0 * s0 + i1 * s1 + i2 * s2 + i3 * s3 + i4 * s4;                     \
      T *to = dst + row * d5;                                                                                 \
      if (s5 == 1)                                                                                            \
        for (int64_t j = 0; j < d5; ++j) to[j] = from[j];                                                     \
      else                                                                                                    \
        for (int64_t j = 0; j < d5; ++j) to[j] = from[j * s5];                                                \
    }                                                                                                         \
  }
GK_STRIDED_COPY(uint8_t, e1)
GK_STRIDED_COPY(uint16_t, e2)
GK_STRIDED_COPY(uint32_t, e4)
GK_STRIDED_COPY(uint64_t, e8)

/* Concat of up to four inputs along an axis, seen as [outer, axis, inner]:
 * output row o is input 0's a0 * inner elements of row o, then input 1's ...
 * Work items are output rows. Missing inputs have a = 0. */
#define GK_CONCAT(T, SUFFIX)                                                                                  \
  GK_TEMPLATE void gk_concat_##SUFFIX(T *dst, const T *x0, const T *x1, const T *x2, const T *x3,             \
                                      int64_t inner, int64_t a0, int64_t a1, int64_t a2, int64_t a3,          \
                                      int64_t begin, int64_t end) {                                           \
    const int64_t n0 = a0 * inner, n1 = a1 * inner, n2 = a2 * inner, n3 = a3 * inner;                         \
    const int64_t row = n0 + n1 + n2 + n3;                                                                    \
    for (int64_t o = begin; o < end; ++o) {                                                                   \
      T *to = dst + o * row;                                                                                  \
      for (int64_t j = 0; j < n0; ++j) to[j] = x0[o * n0 + j];                                                \
      for (int64_t j = 0; j < n1; ++j) to[n0 + j] = x1[o * n1 + j];                                           \
      for (int64_t j = 0; j < n2; ++j) to[n0 + n1 + j] = x2[o * n2 + j];                                      \
      for (int64_t j = 0; j < n3; ++j) to[n0 + n1 + n2 + j] = x3[o * n3 + j];                                 \
    }                                                                                                         \
  }
GK_CONCAT(uint8_t, e1)
GK_CONCAT(uint16_t, e2)
GK_CONCAT(uint32_t, e4)
GK_CONCAT(uint64_t, e8)

/* A run-time start of one axis: an i32 or i64 scalar, clamped so that a
 * slice of `size` fits in `dim` (what the reference does). */
static inline int64_t gk_start(const void *p, int64_t is64, int64_t dim, int64_t size) {
  int64_t s = is64 ? *(const int64_t *)p : (int64_t)*(const int32_t *)p;
  if (s > dim - size) s = dim - size;
  if (s < 0) s = 0;
  return s;
}

/* dynamic_slice on up to four dims (leading dims of 1 when fewer): output
 * [o0, o1, o2, o3] from x [x0, x1, x2, x3] at run-time starts. Work items are
 * output rows. `is64` has bit k set when start k is i64. */
#define GK_DYNAMIC_SLICE(T, SUFFIX)                                                                           \
  GK_TEMPLATE void gk_dynamic_slice_##SUFFIX(T *dst, const T *x, const void *st0, const void *st1,            \
                                             const void *st2, const void *st3, int64_t is64, int64_t x0,      \
                                             int64_t x1, int64_t x2, int64_t x3, int64_t o0, int64_t o1,      \
                                             int64_t o2, int64_t o3, int64_t begin, int64_t end) {            \
    const int64_t b0 = gk_start(st0, is64 & 1, x0, o0), b1 = gk_start(st1, is64 & 2, x1, o1);                \
    const int64_t b2 = gk_start(st2, is64 & 4, x2, o2), b3 = gk_start(st3, is64 & 8, x3, o3);                \
    for (int64_t row = begin; row < end; ++row) {                                                             \
      const int64_t i2 = row % o2, i1 = (row / o2) % o1, i0 = row / (o2 * o1);                                \
      const T *from = x + (((b0 + i0) * x1 + (b1 + i1)) * x2 + (b2 + i2)) * x3 + b3;                          \
      T *to = dst + row * o3;                                                                                 \
      for (int64_t j = 0; j < o3; ++j) to[j] = from[j];                                                       \
    }                                                                                                         \
  }
GK_DYNAMIC_SLICE(uint8_t, e1)
GK_DYNAMIC_SLICE(uint16_t, e2)
GK_DYNAMIC_SLICE(uint32_t, e4)
GK_DYNAMIC_SLICE(uint64_t, e8)

/* dynamic_update_slice on up to four dims: dst = x with `update` [u0..u3]
 * written at run-time starts. Work items are rows of dst ([x0, x1, x2] rows
 * of x3). When dst is x (the runtime updates a KV cache in place) only the
 * rows the update touches are written. */
#define GK_DYNAMIC_UPDATE_SLICE(T, SUFFIX)                                                                    \
  GK_TEMPLATE void gk_dynamic_update_slice_##SUFFIX(                                                          \
      T *dst, const T *x, const T *update, const void *st0, const void *st1, const void *st2, const void *st3, \
      int64_t is64, int64_t x0, int64_t x1, int64_t x2, int64_t x3, int64_t u0, int64_t u1, int64_t u2,       \
      int64_t u3, int64_t begin, int64_t end) {                                                               \
    const int64_t b0 = gk_start(st0, is64 & 1, x0, u0), b1 = gk_start(st1, is64 & 2, x1, u1);                \
    const int64_t b2 = gk_start(st2, is64 & 4, x2, u2), b3 = gk_start(st3, is64 & 8, x3, u3);                \
    const int in_place = dst == x;                                                                            \
    for (int64_t row = begin; row < end; ++row) {                                                             \
      const int64_t i2 = row % x2, i1 = (row / x2) % x1, i0 = row / (x2 * x1);                                \
      const int hit = i0 >= b0 && i0 < b0 + u0 && i1 >= b1 && i1 < b1 + u1 && i2 >= b2 && i2 < b2 + u2;       \
      T *to = dst + row * x3;                                                                                 \
      if (!in_place)                                                                                          \
        for (int64_t j = 0; j < x3; ++j) to[j] = x[row * x3 + j];                                             \
      if (hit) {                                                                                              \
        const T *from = update + (((i0 - b0) * u1 + (i1 - b1)) * u2 + (i2 - b2)) * u3;                        \
        for (int64_t j = 0; j < u3; ++j) to[b3 + j] = from[j];                                                \
      }                                                                                                       \
    }                                                                                                         \
  }
GK_DYNAMIC_UPDATE_SLICE(uint8_t, e1)
GK_DYNAMIC_UPDATE_SLICE(uint16_t, e2)
GK_DYNAMIC_UPDATE_SLICE(uint32_t, e4)
GK_DYNAMIC_UPDATE_SLICE(uint64_t, e8)

/* gather (numpy take) with the table seen as [outer, n, inner] and indices
 * flattened to m: output [outer, m, inner]. Work item (o, j) copies one inner
 * row. An index outside [0, n) gives zeros (the reference reports an error;
 * kernels cannot). */
#define GK_GATHER(T, SUFFIX)                                                                                  \
  GK_TEMPLATE void gk_gather_##SUFFIX(T *dst, const T *table, const void *indices, int64_t idx64,             \
                                      int64_t n, int64_t inner, int64_t m, int64_t begin, int64_t end) {      \
    for (int64_t item = begin; item < end; ++item) {                                                          \
      const int64_t o = item / m, j = item % m;                                                               \
      const int64_t id = idx64 ? ((const int64_t *)indices)[j] : (int64_t)((const int32_t *)indices)[j];      \
      T *to = dst + item * inner;                                                                             \
      if (id < 0 || id >= n) {                                                                                \
        for (int64_t c = 0; c < inner; ++c) to[c] = 0;                                                        \
        continue;                                                                                             \
      }                                                                                                       \
      const T *from = table + (o * n + id) * inner;                                                           \
      for (int64_t c = 0; c < inner; ++c) to[c] = from[c];                                                    \
    }                                                                                                         \
  }
GK_GATHER(uint8_t, e1)
GK_GATHER(uint16_t, e2)
GK_GATHER(uint32_t, e4)
GK_GATHER(uint64_t, e8)

/* gather of rows from a table kept in a block format (axis 0 of a 2-D
 * table: an embedding lookup): each row is decoded to f32. */
GK_TEMPLATE void gk_gather_packed_rows(float *dst, const uint8_t *table, const void *indices, int64_t idx64,
                                       int64_t format, int64_t n, int64_t row_len, int64_t row_bytes,
                                       int64_t begin, int64_t end) {
  for (int64_t j = begin; j < end; ++j) {
    const int64_t id = idx64 ? ((const int64_t *)indices)[j] : (int64_t)((const int32_t *)indices)[j];
    float *to = dst + j * row_len;
    if (id < 0 || id >= n) {
      for (int64_t c = 0; c < row_len; ++c) to[c] = 0;
      continue;
    }
    gk_decode_row(format, table + id * row_bytes, 0, row_len, to);
  }
}

/* scatter_add along axis 0 of an [n, inner] f32 base: dst = base, then each
 * update row added to row indices[j], j in order. Work items are columns, so
 * every column sees the updates in the same order on any thread count. An
 * index outside [0, n) is skipped (the reference reports an error). */
GK_TEMPLATE void gk_scatter_add_rows_f32(float *dst, const float *base, const void *indices, const float *updates,
                                         int64_t idx64, int64_t n, int64_t inner, int64_t m, int64_t begin,
                                         int64_t end) {
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = begin; c < end; ++c) dst[r * inner + c] = base[r * inner + c];
  for (int64_t j = 0; j < m; ++j) {
    const int64_t id = idx64 ? ((const int64_t *)indices)[j] : (int64_t)((const int32_t *)indices)[j];
    if (id < 0 || id >= n) continue;
    for (int64_t c = begin; c < end; ++c) dst[id * inner + c] += updates[j * inner + c];
  }
}
