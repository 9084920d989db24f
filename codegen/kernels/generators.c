/* Values made from nothing but their index: iota and the counter-based
 * random_uniform (bit for bit the reference's generator: see
 * backends/reference/generator_kernels.cpp). Work items are elements. */
#include "codegen/kernels/kernel_abi.h"

#define GK_IOTA(T, NAME)                                                                                     \
  GK_TEMPLATE void gk_iota_##NAME(T *dst, int64_t dim, int64_t inner, int64_t begin, int64_t end) {          \
    for (int64_t e = begin; e < end; ++e) dst[e] = (T)((e / inner) % dim);                                   \
  }
GK_IOTA(int32_t, i32)
GK_IOTA(int64_t, i64)
GK_IOTA(float, f32)

static inline uint64_t gk_fmix(uint64_t z) {
  z ^= z >> 30;
  z *= 0xBF58476D1CE4E5B9ull;
  z ^= z >> 27;
  z *= 0x94D049BB133111EBull;
  z ^= z >> 31;
  return z;
}
static inline uint64_t gk_mix64(uint64_t seed, uint64_t counter) { return gk_fmix(seed * 0x9E3779B97F4A7C15ull + counter); }

/* f32 values from the top 24 bits; the item that starts at 0 also writes
 * the next seed (the runtime runs at least one item when n is 0). */
GK_TEMPLATE void gk_random_uniform_f32(float *values, int64_t *next_seed, const int64_t *seed, int64_t n,
                                       int64_t begin, int64_t end) {
  const uint64_t s = (uint64_t)*seed;
  for (int64_t j = begin; j < end && j < n; ++j)
    values[j] = (float)(gk_mix64(s, (uint64_t)j + 1) >> 40) * (1.0f / 16777216.0f);
  if (begin == 0) *next_seed = (int64_t)gk_mix64(s, (uint64_t)1 << 63);
}
