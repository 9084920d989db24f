// The matvec, GEMM and geglu kernel templates (codegen/kernels/matvec.c,
// gemm.c, geglu.c) called natively (the same C compiled by clang for the
// host, no JIT), against sums in double over weights decoded by
// runtime/dequantize.cpp, the project's own block decoders.
//
// Tolerances, per output element:
//  - f32 arithmetic on exactly decoded weights (f32, bf16, f16, and the
//    portable path for block formats, which decodes then sums in f32): the
//    kernel sums in another order than the reference, so we allow
//    1e-5 * sum_k |x_k w_k|, about 100 f32 roundings of the largest partial
//    sum; a wrong element, block or scale is off by far more.
//  - integer dots against x quantized to int8 (the VNNI path): rounding x to
//    the grid d = amax/127 of its block moves each x_k by at most d/2, so
//    |error| <= sum_k |w_k| * amax_block(k) / 254, plus the f32 allowance
//    above for the scaling and the final sums.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "codegen/cpu_features.h"
#include "ir/dtype.h"
#include "runtime/dequantize.h"
#include "runtime/ggml_type.h"
#include "tests/codegen/linalg_test_data.h"

extern "C" {
void gk_matvec(const float* x, const uint8_t* w, float* y, int64_t fmt, int64_t M, int64_t N, int64_t K,
               int64_t begin, int64_t end);
void gk_matvec_vnni(const float* x, const uint8_t* w, float* y, int64_t fmt, int64_t M, int64_t N, int64_t K,
                    int64_t begin, int64_t end);
void gk_decode_rows(const uint8_t* w, float* y, int64_t fmt, int64_t K, int64_t begin, int64_t end);
void gk_gemm(const float* a, const uint8_t* b, float* c, int64_t fmt, int64_t M, int64_t N, int64_t K,
             int64_t trans_a, int64_t trans_b, int64_t nb0, int64_t nb1, int64_t nb2, int64_t as0, int64_t as1,
             int64_t as2, int64_t bs0, int64_t bs1, int64_t bs2, int64_t mc, int64_t begin, int64_t end);
void gk_geglu(const float* h, const uint8_t* wg, const uint8_t* wu, float* y, int64_t fmt, int64_t M, int64_t F,
              int64_t D, int64_t begin, int64_t end);
void gk_geglu_vnni(const float* h, const uint8_t* wg, const uint8_t* wu, float* y, int64_t fmt, int64_t M, int64_t F,
                   int64_t D, int64_t begin, int64_t end);
void gk_geglu_gemm(const float* h, const uint8_t* wg, const uint8_t* wu, float* y, int64_t fmt, int64_t M, int64_t F,
                   int64_t D, int64_t mc, int64_t begin, int64_t end);
}

namespace graphc {
namespace {

using test_support::decoded;
using test_support::random_floats;
using test_support::random_weight;

constexpr int kGemmTileN = 64;  // GK_NC in codegen/kernels/gemm.h

bool host_has_vnni() {
  const CpuFeatures& f = host_cpu_features();
  return f.avx512f && f.avx512bw && f.avx512vl && f.avx512_vnni;
}

int64_t fmt(GgmlType t) { return static_cast<int64_t>(t); }

// The allowance for the x quantization of the VNNI path: block of x elements
// sharing one scale (ggml's Q8_0 for the _0 formats, Q8_K for K-quants).
int64_t x_block(GgmlType t) { return t == GgmlType::Q4_K || t == GgmlType::Q6_K ? 256 : 32; }

struct MatvecCase {
  GgmlType type;
  int64_t M, N, K;
};

// Checks y [M, N] against the decoded weight in double; `quantized_x`: the
// VNNI bound applies.
void check_matvec(const MatvecCase& c, const std::vector<float>& x, const std::vector<float>& wf,
                  const std::vector<float>& y, bool quantized_x) {
  for (int64_t m = 0; m < c.M; ++m) {
    std::vector<double> amax(c.K);
    if (quantized_x) {
      const int64_t qb = x_block(c.type);
      for (int64_t b = 0; b < c.K / qb; ++b) {
        double a = 0;
        for (int64_t k = b * qb; k < (b + 1) * qb; ++k) a = std::max(a, double(std::fabs(x[m * c.K + k])));
        for (int64_t k = b * qb; k < (b + 1) * qb; ++k) amax[k] = a;
      }
    }
    for (int64_t n = 0; n < c.N; ++n) {
      double want = 0, scale = 0, qerr = 0;
      for (int64_t k = 0; k < c.K; ++k) {
        const double xv = x[m * c.K + k], wv = wf[n * c.K + k];
        want += xv * wv;
        scale += std::fabs(xv * wv);
        if (quantized_x) qerr += std::fabs(wv) * amax[k] / 254;
      }
      const double tol = 1e-5 * scale + qerr + 1e-30;
      ASSERT_NEAR(y[m * c.N + n], want, tol) << ggml_type_name(c.type) << " M=" << c.M << " N=" << c.N
                                             << " K=" << c.K << " at m=" << m << " n=" << n;
    }
  }
}

using MatvecFn = decltype(&gk_matvec);

// Runs over [0, N) in one call and again in uneven pieces: bit-identical.
std::vector<float> run_split_checked(MatvecFn fn, const MatvecCase& c, const std::vector<float>& x,
                                     const std::vector<uint8_t>& w) {
  std::vector<float> whole(c.M * c.N, NAN), pieces(c.M * c.N, NAN);
  fn(x.data(), w.data(), whole.data(), fmt(c.type), c.M, c.N, c.K, 0, c.N);
  for (int64_t b = 0; b < c.N;) {
    const int64_t e = std::min(c.N, b + 1 + (b * 7) % 5);
    fn(x.data(), w.data(), pieces.data(), fmt(c.type), c.M, c.N, c.K, b, e);
    b = e;
  }
  EXPECT_EQ(0, std::memcmp(whole.data(), pieces.data(), whole.size() * 4))
      << ggml_type_name(c.type) << ": result depends on the split of the work items";
  return whole;
}

TEST(KernelTemplatesLinalg, DecodersMatchRuntimeDequantize) {
  for (GgmlType t : {GgmlType::F32, GgmlType::BF16, GgmlType::F16, GgmlType::Q8_0, GgmlType::Q5_0, GgmlType::Q4_K,
                     GgmlType::Q6_K}) {
    const int64_t rows = 3, K = 512;
    const auto w = random_weight(t, rows, K, 7);
    const auto want = decoded(t, w, rows, K);
    std::vector<float> got(rows * K, NAN);
    gk_decode_rows(w.data(), got.data(), fmt(t), K, 0, rows);
    EXPECT_EQ(0, std::memcmp(want.data(), got.data(), got.size() * 4)) << ggml_type_name(t);
  }
}

TEST(KernelTemplatesLinalg, F16DecoderHandlesSubnormalsInfinitiesAndNan) {
  const uint16_t bits[] = {0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x3c00, 0xc000, 0x7bff, 0x7c00, 0xfc00, 0x7e00};
  std::vector<uint8_t> w(sizeof bits);
  std::memcpy(w.data(), bits, sizeof bits);
  const int64_t n = std::size(bits);
  std::vector<float> got(n);
  gk_decode_rows(w.data(), got.data(), fmt(GgmlType::F16), n, 0, 1);
  for (int64_t i = 0; i < n; ++i) {
    const float want = f16_bits_to_float(bits[i]);
    if (std::isnan(want)) EXPECT_TRUE(std::isnan(got[i])) << i;
    else EXPECT_EQ(want, got[i]) << i;
  }
}

const MatvecCase kFloatCases[] = {
    {GgmlType::F32, 1, 1, 1},      {GgmlType::F32, 1, 37, 640},  {GgmlType::F32, 2, 19, 77},
    {GgmlType::F32, 3, 5, 1000},   {GgmlType::F32, 4, 64, 2048}, {GgmlType::BF16, 1, 33, 640},
    {GgmlType::BF16, 3, 7, 131},   {GgmlType::F16, 2, 9, 100},   {GgmlType::F32, 1, 3, 15},
};
const MatvecCase kBlockCases[] = {
    {GgmlType::Q8_0, 1, 1, 32},    {GgmlType::Q8_0, 1, 37, 640},  {GgmlType::Q8_0, 4, 21, 96},
    {GgmlType::Q8_0, 1, 5, 96},  // one row: a two-block step, then an odd block
    {GgmlType::Q5_0, 1, 29, 640},  {GgmlType::Q5_0, 3, 8, 2048},  {GgmlType::Q5_0, 2, 1, 32},
    // Q5_0's VNNI dot takes blocks four at a time, then a pair, then an odd
    // last block: 2, 3 and 7 blocks reach each tail.
    {GgmlType::Q5_0, 1, 3, 64},    {GgmlType::Q5_0, 2, 9, 96},    {GgmlType::Q5_0, 4, 5, 224},
    {GgmlType::Q4_K, 1, 13, 1024}, {GgmlType::Q4_K, 2, 5, 256},   {GgmlType::Q4_K, 4, 17, 2048},
    {GgmlType::Q6_K, 1, 11, 2048}, {GgmlType::Q6_K, 3, 6, 256},   {GgmlType::Q6_K, 4, 3, 512},
};

TEST(KernelTemplatesLinalg, MatvecFloatWeights) {
  for (const MatvecCase& c : kFloatCases) {
    const auto x = random_floats(c.M * c.K, 11);
    const auto w = random_weight(c.type, c.N, c.K, 12);
    const auto y = run_split_checked(gk_matvec, c, x, w);
    check_matvec(c, x, decoded(c.type, w, c.N, c.K), y, false);
  }
}

TEST(KernelTemplatesLinalg, MatvecPortableBlockFormats) {
  for (const MatvecCase& c : kBlockCases) {
    const auto x = random_floats(c.M * c.K, 21);
    const auto w = random_weight(c.type, c.N, c.K, 22);
    const auto y = run_split_checked(gk_matvec, c, x, w);
    check_matvec(c, x, decoded(c.type, w, c.N, c.K), y, false);
  }
}

TEST(KernelTemplatesLinalg, MatvecVnniBlockFormats) {
  if (!host_has_vnni()) GTEST_SKIP() << "host has no AVX-512 VNNI";
  for (const MatvecCase& c : kBlockCases) {
    // Activations of mixed magnitude, so block scales differ.
    auto x = random_floats(c.M * c.K, 31);
    for (int64_t i = 0; i < c.M * c.K; i += 97) x[i] *= 20;
    const auto w = random_weight(c.type, c.N, c.K, 32);
    const auto y = run_split_checked(gk_matvec_vnni, c, x, w);
    check_matvec(c, x, decoded(c.type, w, c.N, c.K), y, true);
  }
}

TEST(KernelTemplatesLinalg, MatvecVnniZeroActivationsAndExtremeWeights) {
  if (!host_has_vnni()) GTEST_SKIP() << "host has no AVX-512 VNNI";
  // x = 0 gives scale 0 (no division by zero); Q8_0 quants of -128 and 127.
  const MatvecCase c{GgmlType::Q8_0, 2, 3, 64};
  std::vector<float> x(c.M * c.K, 0.0f);
  for (int64_t k = 0; k < c.K; ++k) x[c.K + k] = (k % 3 == 0) ? -1.0f : 0.5f;
  auto w = random_weight(c.type, c.N, c.K, 41);
  for (int64_t b = 0; b < c.N * c.K / 32; ++b)
    for (int j = 0; j < 32; ++j) w[34 * b + 2 + j] = static_cast<uint8_t>(j % 2 ? 0x80 : 0x7f);
  const auto y = run_split_checked(gk_matvec_vnni, c, x, w);
  for (int64_t n = 0; n < c.N; ++n) EXPECT_EQ(y[n], 0.0f);
  check_matvec(c, x, decoded(c.type, w, c.N, c.K), y, true);
}

// Reference matmul of the IR (backends/reference/linalg_kernels.cpp) on
// f32 data, one batch entry: A [M, K] or [K, M], B [N, K] or [K, N].
void check_gemm_entry(const float* a, const float* b, const float* c, int64_t M, int64_t N, int64_t K, bool ta,
                      bool tb, const char* what) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double want = 0, scale = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double p = double(ta ? a[k * M + i] : a[i * K + k]) * double(tb ? b[j * K + k] : b[k * N + j]);
        want += p;
        scale += std::fabs(p);
      }
      ASSERT_NEAR(c[i * N + j], want, 1e-5 * scale) << what << " M=" << M << " N=" << N << " K=" << K << " ta=" << ta
                                                    << " tb=" << tb << " at " << i << "," << j;
    }
}

struct GemmCase {
  int64_t M, N, K;
  bool ta, tb;
  int64_t mc;
};

TEST(KernelTemplatesLinalg, GemmF32AllTransposes) {
  const GemmCase cases[] = {
      {128, 2048 / 16, 640, false, true, 128}, {1, 1, 1, false, true, 8},     {3, 70, 300, false, true, 8},
      {37, 65, 257, false, false, 16},         {9, 33, 17, true, true, 8},    {130, 31, 513, true, false, 128},
      {2, 1, 5, false, true, 8},               {17, 129, 256, false, true, 24}, {5, 7, 0, false, true, 8},
  };
  for (const GemmCase& c : cases) {
    const auto a = random_floats(c.M * c.K, 51);
    const auto b = random_floats(c.N * c.K, 52);
    const int64_t extent = (c.M + c.mc - 1) / c.mc * ((c.N + kGemmTileN - 1) / kGemmTileN);
    std::vector<float> whole(c.M * c.N, NAN), pieces(c.M * c.N, NAN);
    auto run = [&](float* out, int64_t begin, int64_t end) {
      gk_gemm(a.data(), reinterpret_cast<const uint8_t*>(b.data()), out, 0, c.M, c.N, c.K, c.ta, c.tb, 1, 1, 1, 0, 0,
              0, 0, 0, 0, c.mc, begin, end);
    };
    run(whole.data(), 0, extent);
    for (int64_t i = extent - 1; i >= 0; --i) run(pieces.data(), i, i + 1);
    EXPECT_EQ(0, std::memcmp(whole.data(), pieces.data(), whole.size() * 4)) << "split changes the bits";
    check_gemm_entry(a.data(), b.data(), whole.data(), c.M, c.N, c.K, c.ta, c.tb, "f32");
  }
}

TEST(KernelTemplatesLinalg, GemmBroadcastBatch) {
  // a [2, 1, 3, M, K] x b [4, K, N]  ->  [2, 4, 3, M, N]: a broadcasts along
  // dim 1, b along dims 0 and 2 (b's batch [4] right-aligned is dim 1).
  const int64_t M = 5, N = 19, K = 23, d0 = 2, d1 = 4, d2 = 3;
  const auto a = random_floats(d0 * d2 * M * K, 61);
  const auto b = random_floats(d1 * K * N, 62);
  std::vector<float> c(d0 * d1 * d2 * M * N, NAN);
  const int64_t tiles = 1;  // M <= mc and N <= 64
  gk_gemm(a.data(), reinterpret_cast<const uint8_t*>(b.data()), c.data(), 0, M, N, K, 0, 0, d0, d1, d2,
          d2 * M * K, 0, M * K, 0, K * N, 0, 8, 0, d0 * d1 * d2 * tiles);
  for (int64_t e0 = 0; e0 < d0; ++e0)
    for (int64_t e1 = 0; e1 < d1; ++e1)
      for (int64_t e2 = 0; e2 < d2; ++e2) {
        const int64_t entry = (e0 * d1 + e1) * d2 + e2;
        check_gemm_entry(a.data() + (e0 * d2 + e2) * M * K, b.data() + e1 * K * N, c.data() + entry * M * N, M, N, K,
                         false, false, "batch");
      }
}

TEST(KernelTemplatesLinalg, GemmBlockFormatWeights) {
  for (GgmlType t : {GgmlType::BF16, GgmlType::F16, GgmlType::Q8_0, GgmlType::Q5_0, GgmlType::Q4_K, GgmlType::Q6_K}) {
    for (int64_t M : {1, 5, 128}) {
      const int64_t N = 70, K = t == GgmlType::Q4_K || t == GgmlType::Q6_K ? 768 : 320;
      const auto a = random_floats(M * K, 71);
      const auto w = random_weight(t, N, K, 72);
      const auto wf = decoded(t, w, N, K);
      const int64_t mc = 64, extent = (M + mc - 1) / mc * 2;
      std::vector<float> c(M * N, NAN);
      gk_gemm(a.data(), w.data(), c.data(), fmt(t), M, N, K, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, mc, 0, extent);
      check_gemm_entry(a.data(), wf.data(), c.data(), M, N, K, false, true, std::string(ggml_type_name(t)).c_str());
    }
  }
}

// The reference's geglu on f32 (backends/reference/fused_kernels.cpp): each
// step rounded to f32.
double ref_gelu_product(double gate, double up) {
  auto r = [](double v) { return double(float(v)); };
  const double g = r(gate), u = r(up);
  const double cube = r(r(r(r(0.044715) * g) * g) * g);
  const double inner = r(r(std::sqrt(2.0 / M_PI)) * r(g + cube));
  const double half_x = r(r(0.5) * g);
  return r(r(half_x * r(r(1.0) + r(std::tanh(inner)))) * u);
}

using GegluFn = decltype(&gk_geglu);

void check_geglu(GgmlType t, int64_t M, int64_t F, int64_t D, bool quantized_x, bool prefill, GegluFn fn) {
  auto h = random_floats(M * D, 81, -2, 2);
  const auto wg = random_weight(t, F, D, 82), wu = random_weight(t, F, D, 83);
  const auto wgf = decoded(t, wg, F, D), wuf = decoded(t, wu, F, D);
  std::vector<float> y(M * F, NAN), pieces(M * F, NAN);
  const int64_t mc = 16;
  const int64_t extent = prefill ? (M + mc - 1) / mc * ((F + kGemmTileN - 1) / kGemmTileN) : F;
  auto run = [&](float* out, int64_t b, int64_t e) {
    if (prefill) gk_geglu_gemm(h.data(), wg.data(), wu.data(), out, fmt(t), M, F, D, mc, b, e);
    else fn(h.data(), wg.data(), wu.data(), out, fmt(t), M, F, D, b, e);
  };
  run(y.data(), 0, extent);
  for (int64_t b = 0; b < extent; b += 3) run(pieces.data(), b, std::min(extent, b + 3));
  EXPECT_EQ(0, std::memcmp(y.data(), pieces.data(), y.size() * 4)) << "split changes the bits";
  const int64_t qb = x_block(t);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t f = 0; f < F; ++f) {
      double gate = 0, up = 0, sg = 0, su = 0, qg = 0, qu = 0;
      for (int64_t k = 0; k < D; ++k) {
        const double x = h[m * D + k];
        gate += x * wgf[f * D + k];
        up += x * wuf[f * D + k];
        sg += std::fabs(x * wgf[f * D + k]);
        su += std::fabs(x * wuf[f * D + k]);
        if (quantized_x) {
          double amax = 0;
          for (int64_t j = k / qb * qb; j < (k / qb + 1) * qb; ++j) amax = std::max(amax, double(std::fabs(h[m * D + j])));
          qg += std::fabs(wgf[f * D + k]) * amax / 254;
          qu += std::fabs(wuf[f * D + k]) * amax / 254;
        }
      }
      // Errors of the two sums (as in the matvec bound) and how gelu(g) * u
      // carries them: |gelu'| <= 1.13, |gelu(g)| <= |g|; plus a few f32
      // roundings of the result.
      const double eg = 1e-5 * sg + qg, eu = 1e-5 * su + qu;
      const double want = ref_gelu_product(gate, up);
      const double tol = 1.13 * eg * (std::fabs(up) + eu) + (std::fabs(gate) + eg) * eu + 1e-6 * std::fabs(want) + 1e-30;
      ASSERT_NEAR(y[m * F + f], want, tol) << ggml_type_name(t) << " M=" << M << " F=" << F << " D=" << D << " at "
                                           << m << "," << f;
    }
}

TEST(KernelTemplatesLinalg, GegluDecodePortable) {
  check_geglu(GgmlType::F32, 1, 37, 640, false, false, gk_geglu);
  check_geglu(GgmlType::F32, 3, 5, 77, false, false, gk_geglu);
  check_geglu(GgmlType::BF16, 2, 9, 640, false, false, gk_geglu);
  check_geglu(GgmlType::Q5_0, 1, 11, 640, false, false, gk_geglu);
  check_geglu(GgmlType::Q4_K, 4, 3, 512, false, false, gk_geglu);
}

TEST(KernelTemplatesLinalg, GegluDecodeVnni) {
  if (!host_has_vnni()) GTEST_SKIP() << "host has no AVX-512 VNNI";
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q5_0, GgmlType::Q4_K, GgmlType::Q6_K})
    for (int64_t M : {1, 2, 4}) check_geglu(t, M, 13, 512, true, false, gk_geglu_vnni);
  // 70 outputs: two full batches of the kernel's gelu (32) and a tail of 6.
  check_geglu(GgmlType::Q5_0, 1, 70, 640, true, false, gk_geglu_vnni);
  check_geglu(GgmlType::Q4_K, 4, 70, 512, true, false, gk_geglu_vnni);
}

TEST(KernelTemplatesLinalg, GegluPrefill) {
  check_geglu(GgmlType::F32, 37, 130, 300, false, true, nullptr);
  check_geglu(GgmlType::F32, 5, 1, 33, false, true, nullptr);
  check_geglu(GgmlType::Q5_0, 20, 70, 640, false, true, nullptr);
  check_geglu(GgmlType::Q6_K, 17, 65, 512, false, true, nullptr);
}

TEST(KernelTemplatesLinalg, CheckCanFail) {
  // A kernel off by one ulp-scale error passes; off by a wrong block scale
  // does not: perturb one decoded weight by a Q8_0 step and the check fails.
  const MatvecCase c{GgmlType::Q8_0, 1, 4, 64};
  auto x = random_floats(c.K, 91);
  x[5] = 0.75f;
  const auto w = random_weight(c.type, c.N, c.K, 92);
  const auto y = run_split_checked(gk_matvec, c, x, w);
  auto wf = decoded(c.type, w, c.N, c.K);
  wf[5] += 0.25f;
  auto check = [&] {
    for (int64_t n = 0; n < c.N; ++n) {
      double want = 0, scale = 0;
      for (int64_t k = 0; k < c.K; ++k) {
        want += double(x[k]) * wf[n * c.K + k];
        scale += std::fabs(double(x[k]) * wf[n * c.K + k]);
      }
      EXPECT_NEAR(y[n], want, 1e-5 * scale);
    }
  };
  EXPECT_NONFATAL_FAILURE(check(), "");
}

}  // namespace
}  // namespace graphc
