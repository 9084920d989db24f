// matmul and geglu through the real path: IR text -> lowering
// (codegen/lower_linalg.cpp) -> JIT -> TBB executor, against the reference
// interpreter. Weights in block formats are bound to the CPU backend as
// packed bytes and to the reference as their decoding (runtime/dequantize).
//
// Tolerances (as in test_kernel_templates_linalg.cpp): f32 sums in another
// order than the reference's double: 1e-5 * sum_k |x_k w_k|. Integer dots
// against int8-quantized x (the VNNI matvec): plus sum_k |w_k| amax_block/254.
// For f32 data in [-1, 1) sum |x w| ~ K / 4, so abs 1e-5 * K / 4 + rel 1e-5.
#include <gtest/gtest.h>

#include <cmath>

#include "codegen/cpu_features.h"
#include "codegen/kernel_call.h"
#include "tests/codegen/jit_check.h"
#include "tests/codegen/linalg_test_data.h"

namespace graphc {
namespace {

using test_support::jit_matches_reference;
using test_support::JitCheck;
using test_support::random_tensor;

// One op `%y = <op_line> : <result>` of function @f with arguments and
// weights declared from `params` and `weights` (name -> type text).
std::string module_text(const std::vector<std::pair<std::string, std::string>>& params,
                        const std::vector<std::pair<std::string, std::string>>& weights, const std::string& op_line,
                        const std::string& result) {
  std::string text = "module @t\n";
  for (const auto& [name, type] : weights) text += "weight @" + name + " : " + type + "\n";
  text += "func @f(";
  for (size_t i = 0; i < params.size(); ++i) text += (i ? ", %" : "%") + params[i].first + ": " + params[i].second;
  text += ") -> (" + result + ") {\n";
  for (const auto& [name, type] : weights) text += "  %" + name + " = weight {name = @" + name + "} : " + type + "\n";
  text += "  %y = " + op_line + " : " + result + "\n  return %y\n}\n";
  return text;
}

std::string type_text(const std::vector<int64_t>& shape) { return HostTensor(DType::f32, shape).type().str(); }

JitCheck f32_check(std::string text, std::vector<HostTensor> args, std::map<std::string, HostTensor> weights,
                   int64_t K) {
  JitCheck c{std::move(text), "f", std::move(args), std::move(weights)};
  c.abs_tol = 1e-5 * double(K) / 4 + 1e-6;
  c.rel_tol = 1e-5;
  c.threads = 2;
  return c;
}

// x [rows..., K] times a weight [N, K] with transpose_b.
void check_f32_weight_matmul(std::vector<int64_t> x_shape, int64_t N) {
  const int64_t K = x_shape.back();
  std::vector<int64_t> y_shape = x_shape;
  y_shape.back() = N;
  const std::string text = module_text({{"x", type_text(x_shape)}}, {{"w", type_text({N, K})}},
                                       "matmul %x, %w {transpose_b = true}", type_text(y_shape));
  EXPECT_TRUE(jit_matches_reference(f32_check(text, {random_tensor(DType::f32, x_shape, 1)},
                                              {{"w", random_tensor(DType::f32, {N, K}, 2)}}, K)))
      << text;
}

TEST(JitLinalg, MatmulF32WeightsDecodeAndPrefill) {
  check_f32_weight_matmul({1, 640}, 1024);   // decode: matvec
  check_f32_weight_matmul({3, 77}, 19);      // small M, odd sizes
  check_f32_weight_matmul({1, 1, 640}, 256); // batch dims folded into rows
  check_f32_weight_matmul({1, 1}, 1);
  check_f32_weight_matmul({37, 300}, 130);   // prefill: GEMM, edge tiles
  check_f32_weight_matmul({2, 64, 640}, 70); // batch folded into 128 rows
}

TEST(JitLinalg, MatmulGeneralForms) {
  struct Case {
    std::vector<int64_t> a, b, y;
    bool ta, tb;
  };
  const Case cases[] = {
      {{5, 7}, {7, 9}, {5, 9}, false, false},
      {{7, 5}, {7, 9}, {5, 9}, true, false},
      {{7, 5}, {9, 7}, {5, 9}, true, true},
      {{2, 1, 3, 5, 7}, {4, 1, 7, 6}, {2, 4, 3, 5, 6}, false, false},  // broadcast batch
      {{3, 1, 4}, {3, 5, 4}, {3, 1, 5}, false, true},               // batched matvec shape (attention)
      {{2, 3, 4, 5, 6, 7}, {7, 2}, {2, 3, 4, 5, 6, 2}, false, false},
      {{4, 1, 3}, {1, 5, 3}, {4, 1, 5}, false, true},
  };
  for (const Case& c : cases) {
    const std::string op = std::string("matmul %a, %b {transpose_a = ") + (c.ta ? "true" : "false") +
                           ", transpose_b = " + (c.tb ? "true" : "false") + "}";
    const std::string text =
        module_text({{"a", type_text(c.a)}, {"b", type_text(c.b)}}, {}, op, type_text(c.y));
    const int64_t K = c.ta ? c.a[c.a.size() - 2] : c.a.back();
    EXPECT_TRUE(jit_matches_reference(
        f32_check(text, {random_tensor(DType::f32, c.a, 3), random_tensor(DType::f32, c.b, 4)}, {}, K)))
        << text;
  }
}

TEST(JitLinalg, GegluF32) {
  for (std::vector<int64_t> h_shape : std::vector<std::vector<int64_t>>{{1, 640}, {1, 1, 640}, {3, 100}, {40, 96}}) {
    const int64_t D = h_shape.back(), F = 2 * D + 3;
    std::vector<int64_t> y_shape = h_shape;
    y_shape.back() = F;
    const std::string text = module_text({{"h", type_text(h_shape)}},
                                         {{"wg", type_text({F, D})}, {"wu", type_text({F, D})}},
                                         "geglu %h, %wg, %wu", type_text(y_shape));
    // gelu(g) * u: the errors of g and u (each 1e-5 * D / 4 at most) times
    // |u| and |gelu'| (<= 1.13) with |g|, |u| up to ~D / 4.
    JitCheck c = f32_check(text, {random_tensor(DType::f32, h_shape, 5)},
                           {{"wg", random_tensor(DType::f32, {F, D}, 6)}, {"wu", random_tensor(DType::f32, {F, D}, 7)}},
                           D);
    c.abs_tol = 3 * 1e-5 * (double(D) / 4) * (double(D) / 4);
    EXPECT_TRUE(jit_matches_reference(c)) << text;
  }
}

// Runs the module on the CPU backend with the weights bound packed and on
// the reference with them decoded; checks every result element against the
// VNNI bound computed from x and the decoded weights.
struct PackedWeight {
  GgmlType type;
  int64_t rows, K;
  std::vector<uint8_t> bytes;
  std::vector<float> decoded;
};

PackedWeight packed_weight(GgmlType t, int64_t rows, int64_t K, uint32_t seed) {
  PackedWeight w{t, rows, K, test_support::random_weight(t, rows, K, seed), {}};
  w.decoded = test_support::decoded(t, w.bytes, rows, K);
  return w;
}

HostTensor as_tensor(const PackedWeight& w) {
  HostTensor t(DType::f32, {w.rows, w.K});
  for (int64_t i = 0; i < w.rows * w.K; ++i) t.set(i, w.decoded[i]);
  return t;
}

Expected<std::pair<std::vector<HostTensor>, std::vector<HostTensor>>> run_packed(
    const std::string& text, const HostTensor& x, const std::map<std::string, const PackedWeight*>& weights) {
  auto module = parse_module(text, "<test>");
  if (!module.ok()) return module.error();
  ReferenceInterpreter ref(**module);
  CpuBackendOptions options;
  options.threads = 2;
  CpuBackend jit(**module, options);
  for (const auto& [name, w] : weights) {
    ref.set_weight(name, as_tensor(*w));
    jit.set_weight_data(name, WeightData{w->bytes.data(), w->type, nullptr});
  }
  auto want = ref.run("f", {x});
  if (!want.ok()) return want.error();
  auto got = jit.run("f", {x});
  if (!got.ok()) return got.error();
  return std::pair{std::move(*got), std::move(*want)};
}

// Per (row m, column n): sum |x w| and the x-quantization allowance.
struct DotBound {
  double scale = 0, quant = 0;
  double tol() const { return 1e-5 * scale + quant + 1e-30; }
};
DotBound dot_bound(const float* x, const float* w, int64_t K, int64_t qb) {
  DotBound b;
  for (int64_t k0 = 0; k0 < K; k0 += qb) {
    double amax = 0;
    for (int64_t k = k0; k < k0 + qb; ++k) amax = std::max(amax, double(std::fabs(x[k])));
    for (int64_t k = k0; k < k0 + qb; ++k) {
      b.scale += std::fabs(double(x[k]) * w[k]);
      b.quant += std::fabs(w[k]) * amax / 254;
    }
  }
  return b;
}

int64_t x_block(GgmlType t) { return t == GgmlType::Q4_K || t == GgmlType::Q6_K ? 256 : 32; }

TEST(JitLinalg, MatmulPackedWeights) {
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q5_0, GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::BF16}) {
    for (int64_t M : {1, 2, 20}) {
      const int64_t K = x_block(t) == 256 ? 1024 : 640, N = 77;
      const PackedWeight w = packed_weight(t, N, K, 11);
      const std::string text = module_text({{"x", type_text({M, K})}}, {{"w", type_text({N, K})}},
                                           "matmul %x, %w {transpose_b = true}", type_text({M, N}));
      const HostTensor x = random_tensor(DType::f32, {M, K}, 12);
      auto r = run_packed(text, x, {{"w", &w}});
      ASSERT_TRUE(r.ok()) << r.error().message;
      const HostTensor &got = r->first[0], &want = r->second[0];
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
          const DotBound b = dot_bound(x.floats().data() + m * K, w.decoded.data() + n * K, K,
                                       t == GgmlType::BF16 ? K : x_block(t));
          const double tol = t == GgmlType::BF16 ? 1e-5 * b.scale : b.tol();
          ASSERT_NEAR(got.get(m * N + n), want.get(m * N + n), tol)
              << ggml_type_name(t) << " M=" << M << " at " << m << "," << n;
        }
    }
  }
}

TEST(JitLinalg, GegluPackedWeights) {
  for (GgmlType t : {GgmlType::Q5_0, GgmlType::Q4_K}) {
    for (int64_t M : {1, 9}) {
      const int64_t D = 512, F = 70;
      const PackedWeight wg = packed_weight(t, F, D, 21), wu = packed_weight(t, F, D, 22);
      const std::string text = module_text({{"h", type_text({M, D})}},
                                           {{"wg", type_text({F, D})}, {"wu", type_text({F, D})}},
                                           "geglu %h, %wg, %wu", type_text({M, F}));
      const HostTensor h = random_tensor(DType::f32, {M, D}, 23);
      auto r = run_packed(text, h, {{"wg", &wg}, {"wu", &wu}});
      ASSERT_TRUE(r.ok()) << r.error().message;
      for (int64_t m = 0; m < M; ++m)
        for (int64_t f = 0; f < F; ++f) {
          const float* x = h.floats().data() + m * D;
          const DotBound bg = dot_bound(x, wg.decoded.data() + f * D, D, x_block(t));
          const DotBound bu = dot_bound(x, wu.decoded.data() + f * D, D, x_block(t));
          double up = 0, gate = 0;
          for (int64_t k = 0; k < D; ++k) {
            up += double(x[k]) * wu.decoded[f * D + k];
            gate += double(x[k]) * wg.decoded[f * D + k];
          }
          const double want = r->second[0].get(m * F + f);
          const double tol = 1.13 * bg.tol() * (std::fabs(up) + bu.tol()) + (std::fabs(gate) + bg.tol()) * bu.tol() +
                             1e-6 * std::fabs(want);
          ASSERT_NEAR(r->first[0].get(m * F + f), want, tol) << ggml_type_name(t) << " M=" << M << " at " << m << ","
                                                             << f;
        }
    }
  }
}

// The lowering's choices and refusals, on the op of a parsed module.
struct Lowered {
  std::unique_ptr<Module> module;
  Expected<KernelCall> call;
};
Lowered lower(const std::string& text, std::vector<BufferInfo> operands, std::vector<BufferInfo> results,
              const CpuFeatures& cpu) {
  auto module = parse_module(text, "<test>");
  EXPECT_TRUE(module.ok());
  const Op* op = nullptr;
  for (const auto& o : (*module)->function("f")->body()->ops())
    if (o->name() == "matmul" || o->name() == "geglu") op = o.get();
  const Lowering* l = KernelLowerings::instance().find(op->name());
  EXPECT_NE(l, nullptr);
  LoweringContext ctx{*op, std::move(operands), std::move(results), cpu};
  Expected<KernelCall> call = (*l)(ctx);
  return {std::move(*module), std::move(call)};
}

TEST(JitLinalg, LoweringChoosesTemplateAndRefuses) {
  CpuFeatures avx512;
  avx512.avx2 = avx512.fma = avx512.avx512f = avx512.avx512bw = avx512.avx512vl = avx512.avx512_vnni = true;
  CpuFeatures avx2;
  avx2.avx2 = avx2.fma = true;
  const std::string mm = module_text({{"x", "f32[1,1024]"}}, {{"w", "f32[640,1024]"}},
                                     "matmul %x, %w {transpose_b = true}", "f32[1,640]");
  const BufferInfo x{DType::f32, {1, 1024}}, y{DType::f32, {1, 640}};
  BufferInfo w{DType::f32, {640, 1024}};
  w.packed = GgmlType::Q4_K;
  auto a = lower(mm, {x, w}, {y}, avx512);
  ASSERT_TRUE(a.call.ok()) << a.call.error().message;
  EXPECT_EQ(a.call->name, "gk_matvec_vnni");
  EXPECT_EQ(a.call->extent, 640);
  auto b = lower(mm, {x, w}, {y}, avx2);
  ASSERT_TRUE(b.call.ok());
  EXPECT_EQ(b.call->name, "gk_matvec");

  const std::string prefill = module_text({{"x", "f32[128,1024]"}}, {{"w", "f32[640,1024]"}},
                                          "matmul %x, %w {transpose_b = true}", "f32[128,640]");
  auto c = lower(prefill, {{DType::f32, {128, 1024}}, w}, {{DType::f32, {128, 640}}}, avx512);
  ASSERT_TRUE(c.call.ok());
  EXPECT_EQ(c.call->name, "gk_gemm");
  EXPECT_EQ(c.call->extent, 10);  // one 128-row tile by 10 tiles of 64 columns

  // A Q4_K weight without transpose_b, and rows that are not whole blocks.
  const std::string nt = module_text({{"x", "f32[1,640]"}}, {{"w", "f32[640,1024]"}}, "matmul %x, %w",
                                     "f32[1,1024]");
  BufferInfo wk{DType::f32, {640, 1024}};
  wk.packed = GgmlType::Q4_K;
  auto d = lower(nt, {{DType::f32, {1, 640}}, wk}, {{DType::f32, {1, 1024}}}, avx512);
  ASSERT_FALSE(d.call.ok());
  EXPECT_NE(d.call.error().message.find("matmul"), std::string::npos) << d.call.error().message;
  EXPECT_NE(d.call.error().message.find("Q4_K"), std::string::npos) << d.call.error().message;
  const std::string odd = module_text({{"x", "f32[1,640]"}}, {{"w", "f32[10,640]"}},
                                      "matmul %x, %w {transpose_b = true}", "f32[1,10]");
  BufferInfo wodd{DType::f32, {10, 640}};
  wodd.packed = GgmlType::Q6_K;
  auto e = lower(odd, {{DType::f32, {1, 640}}, wodd}, {{DType::f32, {1, 10}}}, avx512);
  ASSERT_FALSE(e.call.ok());
  EXPECT_NE(e.call.error().message.find("not whole Q6_K blocks"), std::string::npos) << e.call.error().message;
}

}  // namespace
}  // namespace graphc
