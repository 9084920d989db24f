/* Kernel templates: plain C functions that the JIT specialises per op.
 *
 * Every file in codegen/kernels/ is compiled twice to LLVM bitcode when graphc
 * is built, once per host vector width (GK_VW = 16 floats for AVX-512, 8 for
 * AVX2), and embedded in the codegen library. For an op, the lowering picks a
 * template and its arguments (codegen/kernel_call.h); the JIT emits a wrapper
 *
 *     void kernel(void **buffers, int64_t begin, int64_t end)
 *
 * that calls the template with the op's shapes and attributes as constants.
 * The template is inlined into the wrapper and the whole is optimised at -O3
 * for the host CPU, so each kernel is specialised for its shapes.
 *
 * Conventions for a template:
 *  - name gk_<op>_<variant>, external linkage, GK_TEMPLATE;
 *  - arguments: buffer pointers first, then int64_t / float parameters, then
 *    (int64_t begin, int64_t end): the work items [begin, end) this call does.
 *    The runtime splits [0, extent) across threads, so a template must give the
 *    same bits for any split: never reduce across work items, and reduce
 *    within one in a fixed order.
 *  - no libc beyond <math.h>; no allocation (small scratch on the stack).
 *    A template that needs memory shared by its work items (a merge of
 *    partial results) asks for KernelCall::scratch_bytes: one more buffer,
 *    private to the launch, zero on its first call, kept between calls.
 */
#ifndef GRAPHC_KERNEL_ABI_H
#define GRAPHC_KERNEL_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifndef GK_VW
#error "GK_VW (the vector width in floats: 16 or 8) is set by the build"
#endif

#define GK_TEMPLATE __attribute__((always_inline))
/* Helpers that dispatch on a format or loop over a row: inlined always, so
 * the constants of the call (format, rows, K) fold into them. Left to the
 * inliner's cost model, a helper that handles every format is too big to
 * inline and runs with its branches and trip counts unknown. */
#define GK_HOT_INLINE static inline __attribute__((always_inline))

/* Explicit vectors of the host's width (GCC/Clang vector extension). */
typedef float gk_vf __attribute__((vector_size(GK_VW * sizeof(float))));
typedef int32_t gk_vi __attribute__((vector_size(GK_VW * sizeof(int32_t))));
typedef uint32_t gk_vu __attribute__((vector_size(GK_VW * sizeof(uint32_t))));

static inline gk_vf gk_splat(float x) {
  gk_vf v;
  for (int i = 0; i < GK_VW; ++i) v[i] = x;
  return v;
}
/* Unaligned vector load/store. */
static inline gk_vf gk_load(const float *p) {
  gk_vf v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
static inline void gk_store(float *p, gk_vf v) { __builtin_memcpy(p, &v, sizeof v); }
/* Horizontal sum in a fixed order (pairwise halves). */
static inline float gk_hsum(gk_vf v) {
  float lanes[GK_VW];
  __builtin_memcpy(lanes, &v, sizeof v);
  for (int w = GK_VW / 2; w > 0; w /= 2)
    for (int i = 0; i < w; ++i) lanes[i] += lanes[i + w];
  return lanes[0];
}

/* exp and tanh without a libm call, so that loops over them vectorise.
 * gk_expf: x = n ln2 + r with |r| <= ln2 / 2, exp(r) by its degree-6 Taylor
 * polynomial (truncation below 2e-8 relative), times 2^n built in the
 * exponent bits; relative error within 2 ulp of expf for |x| < 87, and
 * beyond: 0 below -87 (where expf is denormal or 0), e^88 above.
 * gk_tanhf: 1 - 2 / (exp(2|x|) + 1) with the sign restored; absolute error
 * below 2e-7 (tests/codegen/test_vector_math.cpp checks both). */
static inline float gk_expf(float in) {
  const float x = in < -87.0f ? -87.0f : (in > 88.0f ? 88.0f : in);
  const float n = __builtin_roundevenf(x * 1.44269504088896341f);
  const float r = (x - n * 0.693145751953125f) - n * 1.428606765330187045e-06f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  __builtin_memcpy(&scale, &bits, 4);
  return in < -87.0f ? 0.0f : p * scale;
}
static inline float gk_tanhf(float x) {
  const float a = __builtin_fabsf(x);
  const float t = 1.0f - 2.0f / (gk_expf(2.0f * a) + 1.0f);
  return __builtin_copysignf(t, x);
}

#endif
