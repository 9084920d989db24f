// The shape, reduction, generator and fused ops through the JIT against the
// reference interpreter, on random inputs with sizes that are not multiples
// of the vector width and with length-1 dims.
//
// Tolerances: copies, gathers, iota, argmax, topk indices and the random
// generator must be exact. Sums in float against the reference's double:
// |diff| <= n * 2^-24 * sum|x| in the worst case; with |x| <= 1 and n <= 300
// that is below 2e-5, so abs 1e-5 + rel 1e-5. softmax/rms_norm/attention
// (expf, a few float ops per element): rel 1e-5, abs 1e-6.
#include <gtest/gtest.h>

#include <limits>

#include "tests/codegen/jit_check.h"

namespace graphc {
namespace {

using test_support::jit_matches_reference;
using test_support::JitCheck;
using test_support::random_tensor;

std::string one_op(const std::vector<HostTensor>& args, const std::string& op_line, const std::string& results) {
  std::string params;
  for (size_t i = 0; i < args.size(); ++i)
    params += (i ? ", " : "") + std::string("%a") + std::to_string(i) + ": " + args[i].type().str();
  return "module @t\nfunc @f(" + params + ") -> (" + results + ") {\n  " + op_line + "\n  return %y\n}\n";
}

JitCheck check(std::vector<HostTensor> args, const std::string& op, const std::string& result_type,
               double abs_tol = 0, double rel_tol = 0) {
  JitCheck c{one_op(args, "%y = " + op + " : " + result_type, result_type), "f", std::move(args)};
  c.abs_tol = abs_tol;
  c.rel_tol = rel_tol;
  return c;
}

TEST(JitCoreOps, CopiesAreExact) {
  HostTensor x = random_tensor(DType::f32, {3, 1, 17, 5}, 1);
  EXPECT_TRUE(jit_matches_reference(check({x}, "transpose %a0 {perm = [2, 0, 3, 1]}", "f32[17,3,5,1]")));
  HostTensor b = random_tensor(DType::f32, {1, 5}, 2);
  EXPECT_TRUE(jit_matches_reference(check({b}, "broadcast %a0 {shape = [2, 7, 5]}", "f32[2,7,5]")));
  EXPECT_TRUE(jit_matches_reference(
      check({x}, "slice %a0 {limit = [3, 1, 17, 5], start = [1, 0, 2, 1], stride = [1, 1, 3, 2]}", "f32[2,1,5,2]")));
  HostTensor c1 = random_tensor(DType::f32, {4, 3}, 3), c2 = random_tensor(DType::f32, {4, 9}, 4);
  EXPECT_TRUE(jit_matches_reference(check({c1, c2}, "concat %a0, %a1 {axis = 1}", "f32[4,12]")));
  HostTensor ints = random_tensor(DType::i64, {6, 3}, 5, -100, 100);
  EXPECT_TRUE(jit_matches_reference(check({ints}, "transpose %a0 {perm = [1, 0]}", "i64[3,6]")));
}

TEST(JitCoreOps, DynamicSlicesClampLikeTheReference) {
  HostTensor x = random_tensor(DType::f32, {9, 33}, 1);
  for (int start : {0, 4, 8, 100, -3}) {
    HostTensor s0 = HostTensor::scalar(DType::i32, start), s1 = HostTensor::scalar(DType::i64, 7);
    EXPECT_TRUE(jit_matches_reference(check({x, s0, s1}, "dynamic_slice %a0, %a1, %a2 {sizes = [2, 20]}", "f32[2,20]")))
        << start;
    HostTensor u = random_tensor(DType::f32, {2, 20}, 2);
    EXPECT_TRUE(jit_matches_reference(check({x, u, s0, s1}, "dynamic_update_slice %a0, %a1, %a2, %a3", "f32[9,33]")))
        << start;
  }
}

TEST(JitCoreOps, KvCacheUpdatedInPlaceThroughState) {
  // The runtime may update a cache in place; either way the values match.
  const std::string text = R"(module @t
state @cache : f32[16,8]
func @f(%row: f32[1,8], %pos: i32[]) -> (f32[16,8]) {
  %c = state_get {name = @cache} : f32[16,8]
  %zero = constant {dtype = i32, shape = [], value = 0} : i32[]
  %u = dynamic_update_slice %c, %row, %pos, %zero : f32[16,8]
  state_set %u {name = @cache}
  return %u
}
)";
  auto m = parse_module(text);
  ASSERT_TRUE(m.ok());
  ReferenceInterpreter ref(**m);
  CpuBackend jit(**m);
  for (int pos = 0; pos < 5; ++pos) {
    std::vector<HostTensor> args{random_tensor(DType::f32, {1, 8}, pos), HostTensor::scalar(DType::i32, pos * 3)};
    auto a = ref.run("f", args);
    auto b = jit.run("f", args);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ((*a)[0].floats(), (*b)[0].floats());
  }
  EXPECT_EQ(ref.state("cache").floats(), jit.state("cache").floats());
}

TEST(JitCoreOps, GatherRowsAndScalars) {
  HostTensor table = random_tensor(DType::f32, {11, 7}, 1);
  HostTensor idx = HostTensor::from_ints(DType::i32, {4}, {3, 0, 10, 3});
  EXPECT_TRUE(jit_matches_reference(check({table, idx}, "gather %a0, %a1 {axis = 0}", "f32[4,7]")));
  HostTensor one = HostTensor::scalar(DType::i64, 6);
  EXPECT_TRUE(jit_matches_reference(check({table, one}, "gather %a0, %a1 {axis = 1}", "f32[11]")));
}

// Repeated indices accumulate in index order on both sides (the reference
// rounds to float after every addition too), so the results are equal.
TEST(JitCoreOps, ScatterAddAccumulatesRepeatedRows) {
  HostTensor base = random_tensor(DType::f32, {11, 37}, 1);
  HostTensor idx = HostTensor::from_ints(DType::i32, {2, 3}, {3, 0, 10, 3, 3, 7});
  HostTensor rows = random_tensor(DType::f32, {2, 3, 37}, 2);
  EXPECT_TRUE(jit_matches_reference(check({base, idx, rows}, "scatter_add %a0, %a1, %a2", "f32[11,37]")));
}

TEST(JitCoreOps, Reductions) {
  HostTensor x = random_tensor(DType::f32, {5, 37, 3}, 1);
  for (const char* kind : {"sum", "mean", "max"})
    EXPECT_TRUE(jit_matches_reference(
        check({x}, std::string("reduce %a0 {axes = [1], kind = \"") + kind + "\"}", "f32[5,3]", 1e-5, 1e-5)))
        << kind;
  EXPECT_TRUE(jit_matches_reference(check({x}, "reduce %a0 {axes = [0, 1], kind = \"sum\"}", "f32[3]", 1e-5, 1e-5)));
  EXPECT_TRUE(jit_matches_reference(check({x}, "softmax %a0 {axis = 1}", "f32[5,37,3]", 1e-6, 1e-5)));
  EXPECT_TRUE(jit_matches_reference(check({x}, "argmax %a0 {axis = 1}", "i32[5,3]")));
  EXPECT_TRUE(jit_matches_reference(check({x}, "cumsum %a0 {axis = 1}", "f32[5,37,3]", 1e-5, 1e-5)));
  HostTensor r = random_tensor(DType::f32, {3, 300}, 2);
  const std::string text = one_op({r}, "%y, %i = topk %a0 {k = 17} : f32[3,17], i32[3,17]", "f32[3,17], i32[3,17]");
  std::string fixed = text;
  fixed.replace(fixed.find("return %y"), 9, "return %y, %i");
  EXPECT_TRUE(jit_matches_reference({fixed, "f", {r}}));
  HostTensor ties = HostTensor::from_floats(DType::f32, {1, 6}, {1, 3, 3, 2, 3, 0});
  std::string tie_text = one_op({ties}, "%y, %i = topk %a0 {k = 4} : f32[1,4], i32[1,4]", "f32[1,4], i32[1,4]");
  tie_text.replace(tie_text.find("return %y"), 9, "return %y, %i");
  EXPECT_TRUE(jit_matches_reference({tie_text, "f", {ties}}));
}

TEST(JitCoreOps, ArgmaxOfContiguousRowsMatchesTheScan) {
  // The vectorised path (the last axis): rows longer and shorter than a
  // vector, ties (the first index wins), NaN (the first NaN wins), -0 and +0
  // (equal: the first zero), -inf only, and the maximum in the scalar tail.
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  HostTensor r = random_tensor(DType::f32, {4, 1000}, 3);
  EXPECT_TRUE(jit_matches_reference(check({r}, "argmax %a0 {axis = 1}", "i32[4]")));
  const std::vector<std::vector<float>> rows = {
      {1, 5, 2, 5, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5},
      {1, 2, nan, 3, nan, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9},
      {-1, -0.0f, -3, 0.0f, -2, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1},
      {-inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf},
      {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7},
  };
  for (size_t i = 0; i < rows.size(); ++i) {
    HostTensor row = HostTensor::from_floats(DType::f32, {1, int64_t(rows[i].size())}, rows[i]);
    EXPECT_TRUE(jit_matches_reference(check({row}, "argmax %a0 {axis = 1}", "i32[1]"))) << "row " << i;
  }
  HostTensor shortest = HostTensor::from_floats(DType::f32, {1, 3}, {2, 7, 7});
  EXPECT_TRUE(jit_matches_reference(check({shortest}, "argmax %a0 {axis = 1}", "i32[1]")));
}

TEST(JitCoreOps, Generators) {
  HostTensor seed = HostTensor::scalar(DType::i64, 12345);
  std::string text = one_op({seed}, "%y, %n = random_uniform %a0 {dtype = f32, shape = [5, 33]} : f32[5,33], i64[]",
                            "f32[5,33], i64[]");
  text.replace(text.find("return %y"), 9, "return %y, %n");
  EXPECT_TRUE(jit_matches_reference({text, "f", {seed}}));
  HostTensor dummy = HostTensor::scalar(DType::i32, 0);
  EXPECT_TRUE(jit_matches_reference(check({dummy}, "iota {axis = 1, dtype = i32, shape = [4, 9]}", "i32[4,9]")));
  EXPECT_TRUE(jit_matches_reference(check({dummy}, "iota {axis = 0, dtype = i64, shape = [7]}", "i64[7]")));
}

TEST(JitCoreOps, FusedLayerOps) {
  HostTensor x = random_tensor(DType::f32, {3, 2, 100}, 1), w = random_tensor(DType::f32, {100}, 2);
  EXPECT_TRUE(jit_matches_reference(check({x, w}, "rms_norm %a0, %a1 {eps = 1e-06}", "f32[3,2,100]", 1e-6, 1e-5)));
  HostTensor q = random_tensor(DType::f32, {4, 3, 24}, 3);
  HostTensor cs = random_tensor(DType::f32, {3, 12}, 4), sn = random_tensor(DType::f32, {3, 12}, 5);
  EXPECT_TRUE(jit_matches_reference(check({q, cs, sn}, "rope %a0, %a1, %a2", "f32[4,3,24]", 1e-6, 1e-6)));
  // GQA 4:2, 3 queries against 13 keys under a causal-like mask.
  HostTensor k = random_tensor(DType::f32, {2, 13, 24}, 6), v = random_tensor(DType::f32, {2, 13, 20}, 7);
  HostTensor mask(DType::boolean, {3, 13});
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 13; ++j) mask.set_int(i * 13 + j, j <= 10 + i);
  EXPECT_TRUE(jit_matches_reference(check({q, k, v, mask}, "attention %a0, %a1, %a2, %a3 {mask_value = -1e+30, scale = 0.2}",
                                          "f32[4,3,20]", 1e-6, 1e-5)));
}

// Many keys (150, as in a decode step's KV cache), with a run of 64 hidden
// keys in the middle of row 1 and no visible key in row 2 (the mean of v).
// Scores of scale 3 make later keys raise the running maximum many times, so
// the online softmax's rescaling is exercised over a long run.
TEST(JitCoreOps, AttentionOverManyKeys) {
  HostTensor q = random_tensor(DType::f32, {2, 3, 32}, 8);
  HostTensor k = random_tensor(DType::f32, {1, 150, 32}, 9), v = random_tensor(DType::f32, {1, 150, 16}, 10);
  HostTensor mask(DType::boolean, {3, 150});
  for (int64_t j = 0; j < 150; ++j) {
    mask.set_int(j, j < 140);
    mask.set_int(150 + j, j < 64 || j >= 128);
    mask.set_int(300 + j, 0);
  }
  EXPECT_TRUE(jit_matches_reference(check({q, k, v, mask}, "attention %a0, %a1, %a2, %a3 {mask_value = -1e+30, scale = 3.0}",
                                          "f32[2,3,16]", 1e-6, 1e-5)));
}

// A decode step's shape: one query row, one KV head shared by a group of
// query heads, 97 of 150 cache rows visible. The kernel splits the visible
// keys in two halves (49 and 48), one work item each, and merges them. Also
// two KV heads (two groups, four items); 16 heads of 600 value columns; and
// four rows of those, which take the one-pass kernel, whose accumulators hold
// 13 heads at a time, so it makes two passes over the keys.
TEST(JitCoreOps, AttentionDecodeStepGroups) {
  HostTensor mask(DType::boolean, {1, 150});
  for (int64_t j = 0; j < 150; ++j) mask.set_int(j, j < 97);
  const std::string op = "attention %a0, %a1, %a2, %a3 {mask_value = -1e+30, scale = 0.5}";
  HostTensor q = random_tensor(DType::f32, {4, 1, 64}, 11);
  HostTensor k = random_tensor(DType::f32, {1, 150, 64}, 12), v = random_tensor(DType::f32, {1, 150, 48}, 13);
  EXPECT_TRUE(jit_matches_reference(check({q, k, v, mask}, op, "f32[4,1,48]", 1e-6, 1e-5)));
  HostTensor k2 = random_tensor(DType::f32, {2, 150, 64}, 17), v2 = random_tensor(DType::f32, {2, 150, 48}, 18);
  EXPECT_TRUE(jit_matches_reference(check({q, k2, v2, mask}, op, "f32[4,1,48]", 1e-6, 1e-5)));
  HostTensor q16 = random_tensor(DType::f32, {16, 1, 32}, 14);
  HostTensor k16 = random_tensor(DType::f32, {1, 150, 32}, 15), v16 = random_tensor(DType::f32, {1, 150, 600}, 16);
  EXPECT_TRUE(jit_matches_reference(check({q16, k16, v16, mask}, op, "f32[16,1,600]", 1e-6, 1e-5)));
  HostTensor q4 = random_tensor(DType::f32, {16, 4, 32}, 19);
  HostTensor mask4(DType::boolean, {4, 150});
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 150; ++j) mask4.set_int(i * 150 + j, j < 90 + 20 * i);
  EXPECT_TRUE(jit_matches_reference(check({q4, k16, v16, mask4}, op, "f32[16,4,600]", 1e-6, 1e-5)));
}

// The split kernel of a decode step keeps a counter in its launch's scratch
// between calls (which half finished second). One compiled program called
// five times with new inputs and a growing number of visible keys, as a
// decode loop calls it, must match the reference every time.
TEST(JitCoreOps, AttentionDecodeRepeatedCalls) {
  const std::string op = "attention %a0, %a1, %a2, %a3 {mask_value = -1e+30, scale = 0.5}";
  auto inputs = [](int call) {
    HostTensor mask(DType::boolean, {1, 150});
    for (int64_t j = 0; j < 150; ++j) mask.set_int(j, j < 1 + 30 * call);
    return std::vector<HostTensor>{random_tensor(DType::f32, {4, 1, 64}, 20 + call),
                                   random_tensor(DType::f32, {1, 150, 64}, 30 + call),
                                   random_tensor(DType::f32, {1, 150, 48}, 40 + call), mask};
  };
  const JitCheck c = check(inputs(0), op, "f32[4,1,48]");
  auto m = parse_module(c.module_text, "<test>");
  ASSERT_TRUE(m.ok());
  ReferenceInterpreter ref(**m);
  CpuBackend jit(**m, CpuBackendOptions{2, ""});
  for (int call = 0; call < 5; ++call) {
    const auto args = inputs(call);
    auto want = ref.run("f", args);
    auto got = jit.run("f", args);
    ASSERT_TRUE(want.ok() && got.ok());
    const auto &w = (*want)[0].floats(), &g = (*got)[0].floats();
    for (size_t i = 0; i < w.size(); ++i)
      ASSERT_NEAR(g[i], w[i], 1e-6 + 1e-5 * std::fabs(w[i])) << "call " << call << " element " << i;
  }
}

}  // namespace
}  // namespace graphc
