// Every gradient rule against central finite differences in double precision
// on the reference interpreter, then the compositions a Gemma-3 forward is
// made of (RMSNorm, tanh-GELU, RoPE, attention with GQA and a sliding-window
// mask, embedding lookup and cross-entropy).
//
// Each check builds f64 inputs x, y = f(x), the scalar loss L = sum(y * r)
// with fixed random r (so every element of y matters with its own weight),
// and compares append_gradients' dL/dx with (L(x + h e) - L(x - h e)) / 2h
// for every element. Tolerance: with h = 1e-5 the truncation error is about
// h^2 |L'''| / 6 ~ 1e-10 and the rounding error about 1e-16 |L| / h ~ 1e-11
// for the O(1)-sized functions here, so |numeric - analytic| <= 1e-6 (1 +
// |analytic|) passes every correct rule with a wide margin, while a wrong
// rule is off by O(1).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <set>

#include "backends/reference/interpreter.h"
#include "graphs/layers.h"
#include "ir/builder.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "passes/autodiff.h"
#include "passes/gradient_rules.h"

namespace graphc {
namespace {

struct Input {
  std::vector<int64_t> shape;
  double lo = -1, hi = 1;
};

struct GradCase {
  std::string name;
  std::vector<std::string> rules;  // the rules the case exercises
  std::vector<Input> inputs;
  std::function<Val(Builder&, const std::vector<Val>&)> f;
  double h = 1e-5;
  double tol = 1e-6;
};

HostTensor random_f64(const std::vector<int64_t>& shape, double lo, double hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  HostTensor t(DType::f64, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, u(rng));
  return t;
}

TensorType f64(std::vector<int64_t> shape) { return TensorType(DType::f64, from_static(shape)); }

void expect_gradients_match(const GradCase& c) {
  SCOPED_TRACE(c.name);
  Module m("grad_check");
  Builder b = Builder::function(m, "f");
  std::vector<Val> xs;
  for (size_t i = 0; i < c.inputs.size(); ++i) xs.push_back(b.param(f64(c.inputs[i].shape), "x" + std::to_string(i)));
  Val y = c.f(b, xs);
  HostTensor r = random_f64(to_static(y.shape()), -1, 1, 99);
  Val weighted = y * b.constant(std::vector<double>(r.doubles()), y.type());
  std::vector<int64_t> all;
  for (int d = 0; d < y.type().rank(); ++d) all.push_back(d);
  Val loss = all.empty() ? weighted : b.sum(weighted, all);
  Expected<std::vector<Val>> grads = append_gradients(b, loss, xs);
  ASSERT_TRUE(grads.ok()) << grads.error().message;
  std::vector<Val> results{loss};
  results.insert(results.end(), grads->begin(), grads->end());
  b.ret(results);
  ASSERT_TRUE(verify_module(m).ok()) << verify_module(m).error().message << "\n" << print_module(m);

  std::vector<HostTensor> args;
  for (size_t i = 0; i < c.inputs.size(); ++i)
    args.push_back(random_f64(c.inputs[i].shape, c.inputs[i].lo, c.inputs[i].hi, 7 + static_cast<uint32_t>(i)));
  ReferenceInterpreter interp(m);
  auto analytic = interp.run("f", args);
  ASSERT_TRUE(analytic.ok()) << analytic.error().message;
  auto loss_at = [&](std::vector<HostTensor> a) {
    auto out = interp.run("f", a);
    EXPECT_TRUE(out.ok());
    return out.ok() ? (*out)[0].get(0) : NAN;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const HostTensor& g = (*analytic)[1 + i];
    ASSERT_EQ(g.shape(), args[i].shape());
    for (int64_t j = 0; j < args[i].numel(); ++j) {
      std::vector<HostTensor> plus = args, minus = args;
      plus[i].set(j, args[i].get(j) + c.h);
      minus[i].set(j, args[i].get(j) - c.h);
      const double numeric = (loss_at(plus) - loss_at(minus)) / (2 * c.h);
      const double a = g.get(j);
      ASSERT_LE(std::fabs(numeric - a), c.tol * (1 + std::fabs(a)))
          << "input " << i << " element " << j << ": numeric " << numeric << ", analytic " << a;
    }
  }
}

// Constants in the tests' dtype.
Val k(Builder& b, double v) { return b.scalar(v, DType::f64); }

std::vector<GradCase> elementwise_cases() {
  using V = const std::vector<Val>&;
  return {
      {"neg", {"neg"}, {{{2, 3}}}, [](Builder& b, V x) { return -x[0]; }},
      // Away from 0, where |x| has no derivative.
      {"abs", {"abs", "select"}, {{{7}, 0.1, 1}}, [](Builder& b, V x) { return b.abs(x[0] - k(b, 0.55)); }},
      {"exp", {"exp"}, {{{2, 3}}}, [](Builder& b, V x) { return b.exp(x[0]); }},
      {"log", {"log"}, {{{2, 3}, 0.5, 2}}, [](Builder& b, V x) { return b.log(x[0]); }},
      {"tanh", {"tanh"}, {{{2, 3}, -2, 2}}, [](Builder& b, V x) { return b.tanh(x[0]); }},
      {"sqrt", {"sqrt"}, {{{2, 3}, 0.5, 2}}, [](Builder& b, V x) { return b.sqrt(x[0]); }},
      {"rsqrt", {"rsqrt"}, {{{2, 3}, 0.5, 2}}, [](Builder& b, V x) { return b.rsqrt(x[0]); }},
      {"sin", {"sin"}, {{{5}, -3, 3}}, [](Builder& b, V x) { return b.sin(x[0]); }},
      {"cos", {"cos"}, {{{5}, -3, 3}}, [](Builder& b, V x) { return b.cos(x[0]); }},
      // Both operands broadcast: [3,1] against [4].
      {"add", {"add"}, {{{3, 1}}, {{4}}}, [](Builder& b, V x) { return x[0] + x[1]; }},
      {"sub", {"sub"}, {{{3, 4}}, {{1, 4}}}, [](Builder& b, V x) { return x[0] - x[1]; }},
      {"mul", {"mul"}, {{{3, 1}}, {{2, 3, 4}}}, [](Builder& b, V x) { return x[0] * x[1]; }},
      {"div", {"div"}, {{{3, 4}}, {{4}, 0.5, 2}}, [](Builder& b, V x) { return x[0] / x[1]; }},
      {"pow", {"pow"}, {{{3, 4}, 0.5, 2}, {{4}}}, [](Builder& b, V x) { return b.pow(x[0], x[1]); }},
      // Distinct operands almost surely: no ties.
      {"max", {"max"}, {{{3, 4}}, {{4}}}, [](Builder& b, V x) { return b.max(x[0], x[1]); }},
      {"min", {"min"}, {{{3, 4}}, {{3, 4}}}, [](Builder& b, V x) { return b.min(x[0], x[1]); }},
      // A mask from a comparison of indices, as attention masks are made.
      {"select",
       {"select"},
       {{{4, 4}}, {{4}}},
       [](Builder& b, V x) {
         Val mask = b.compare(b.iota({4, 4}, 1), "le", b.iota({4, 4}, 0));
         return b.select(mask, x[0], x[1]);
       }},
      // Through f32 and back: rounding to float limits the finite
      // difference to about 2^-24 / h relative, so a larger h and tolerance.
      {"cast",
       {"cast"},
       {{{6}}},
       [](Builder& b, V x) { return b.cast(b.cast(x[0], DType::f32) * b.scalar(3.0), DType::f64); },
       1e-2,
       1e-4},
  };
}

std::vector<GradCase> shape_cases() {
  using V = const std::vector<Val>&;
  return {
      {"reshape", {"reshape"}, {{{2, 6}}}, [](Builder& b, V x) { return b.exp(b.reshape(x[0], {3, 4})); }},
      {"transpose", {"transpose"}, {{{2, 3, 4}}}, [](Builder& b, V x) { return b.exp(b.transpose(x[0], {2, 0, 1})); }},
      {"broadcast", {"broadcast"}, {{{3, 1}}}, [](Builder& b, V x) { return b.broadcast(x[0], {2, 3, 5}); }},
      {"slice", {"slice"}, {{{4, 5}}}, [](Builder& b, V x) { return b.exp(b.slice(x[0], {1, 2}, {3, 5})); }},
      {"concat",
       {"concat"},
       {{{2, 3}}, {{2, 1}}, {{2, 2}}},
       [](Builder& b, V x) { return b.tanh(b.concat({x[0], x[1], x[2]}, 1)); }},
      // Start 4 of a length-3 window in 6 is clamped to 3, in both directions.
      {"dynamic_slice",
       {"dynamic_slice", "dynamic_update_slice"},
       {{{6, 4}}},
       [](Builder& b, V x) {
         return b.exp(b.dynamic_slice(x[0], {b.scalar(4, DType::i32), b.scalar(1, DType::i32)}, {3, 2}));
       }},
      {"dynamic_update_slice",
       {"dynamic_update_slice", "dynamic_slice"},
       {{{5, 3}}, {{2, 3}}},
       [](Builder& b, V x) {
         return b.tanh(b.dynamic_update_slice(x[0], x[1], {b.scalar(2, DType::i32), b.scalar(0, DType::i32)}));
       }},
      // Row 3 is read twice: its gradients add up (scatter_add).
      {"gather",
       {"gather", "scatter_add"},
       {{{5, 3}}},
       [](Builder& b, V x) {
         Val ids = b.constant({3, 0, 3, 4}, TensorType(DType::i32, {4}));
         return b.exp(b.gather(x[0], ids, 0));
       }},
      {"scatter_add",
       {"scatter_add", "gather"},
       {{{4, 3}}, {{2, 2, 3}}},
       [](Builder& b, V x) {
         Val ids = b.constant({1, 1, 0, 3}, TensorType(DType::i32, {2, 2}));
         return b.tanh(b.scatter_add(x[0], ids, x[1]));
       }},
  };
}

std::vector<GradCase> reduction_cases() {
  using V = const std::vector<Val>&;
  return {
      {"reduce sum", {"reduce"}, {{{3, 4, 2}}}, [](Builder& b, V x) { return b.exp(b.sum(x[0], {0, 2})); }},
      {"reduce sum keepdims",
       {"reduce"},
       {{{3, 4}}},
       [](Builder& b, V x) { return b.exp(b.sum(x[0], {-1}, true)); }},
      {"reduce mean", {"reduce"}, {{{3, 4}}}, [](Builder& b, V x) { return b.exp(b.mean(x[0], {1})); }},
      {"reduce max", {"reduce"}, {{{3, 5}}}, [](Builder& b, V x) { return b.reduce(x[0], "max", {1}); }},
      {"reduce max keepdims",
       {"reduce"},
       {{{3, 5}}},
       [](Builder& b, V x) { return b.reduce(x[0], "max", {0}, true); }},
      {"softmax", {"softmax"}, {{{3, 5}}}, [](Builder& b, V x) { return b.softmax(x[0], -1); }},
      {"softmax axis 0", {"softmax"}, {{{3, 5}}}, [](Builder& b, V x) { return b.softmax(x[0], 0); }},
      {"cumsum", {"cumsum"}, {{{3, 5}}}, [](Builder& b, V x) { return b.exp(b.cumsum(x[0], 1)); }},
  };
}

std::vector<GradCase> linalg_cases() {
  using V = const std::vector<Val>&;
  std::vector<GradCase> out;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      std::vector<int64_t> a = ta ? std::vector<int64_t>{4, 3} : std::vector<int64_t>{3, 4};
      std::vector<int64_t> bm = tb ? std::vector<int64_t>{5, 4} : std::vector<int64_t>{4, 5};
      out.push_back({std::string("matmul ta=") + (ta ? "1" : "0") + " tb=" + (tb ? "1" : "0"),
                     {"matmul"},
                     {{a}, {bm}},
                     [ta, tb](Builder& b, V x) { return b.matmul(x[0], x[1], ta, tb); }});
    }
  // Batched, with b broadcast along a batch dim (as GQA's keys are).
  out.push_back({"matmul batch broadcast",
                 {"matmul"},
                 {{{2, 3, 2, 4}}, {{2, 1, 5, 4}}},
                 [](Builder& b, V x) { return b.matmul(x[0], x[1], false, true); }});
  out.push_back({"matmul rank 2 by rank 3",
                 {"matmul"},
                 {{{3, 4}}, {{2, 4, 2}}},
                 [](Builder& b, V x) { return b.matmul(x[0], x[1]); }});
  return out;
}

std::vector<GradCase> all_cases() {
  std::vector<GradCase> all;
  for (auto* family : {elementwise_cases, shape_cases, reduction_cases, linalg_cases})
    for (GradCase& c : family()) all.push_back(std::move(c));
  return all;
}

TEST(Autodiff, EveryRuleMatchesFiniteDifferences) {
  for (const GradCase& c : all_cases()) expect_gradients_match(c);
}

TEST(Autodiff, EveryRegisteredRuleHasAFiniteDifferenceCase) {
  std::set<std::string> covered;
  for (const GradCase& c : all_cases()) covered.insert(c.rules.begin(), c.rules.end());
  for (const std::string& rule : GradientRules::instance().names()) EXPECT_TRUE(covered.count(rule)) << rule;
}

// ---- the compositions of a Gemma-3 forward ---------------------------------------

TEST(Autodiff, RmsNormAndGeluTanh) {
  using V = const std::vector<Val>&;
  expect_gradients_match({"rms_norm", {}, {{{3, 8}}, {{8}}}, [](Builder& b, V x) {
                            return rms_norm(b, x[0], x[1], 1e-6);
                          }});
  expect_gradients_match({"gelu_tanh", {}, {{{3, 8}, -3, 3}}, [](Builder& b, V x) { return gelu_tanh(b, x[0]); }});
}

TEST(Autodiff, Rope) {
  expect_gradients_match({"rope", {}, {{{5, 2, 8}}}, [](Builder& b, const std::vector<Val>& x) {
                            Val positions = b.iota({5}, 0, DType::i32);
                            auto [cos, sin] = rope_tables(b, positions, 8, 10000.0, 1.0, DType::f64);
                            return apply_rope(b, x[0], cos, sin);
                          }});
}

// Grouped-query attention as graphs/gemma3.cpp writes it: 4 query heads over
// 2 KV heads, a causal sliding window of 3, and the -1e30 mask fill.
TEST(Autodiff, AttentionWithGqaAndSlidingWindow) {
  const int64_t H = 4, K = 2, G = H / K, n = 5, hd = 4;
  expect_gradients_match({"attention", {}, {{{H, n, hd}}, {{K, n, hd}}, {{K, n, hd}}},
                          [&](Builder& b, const std::vector<Val>& x) {
                            Val q = b.reshape(x[0], {K, G, n, hd});
                            Val kk = b.reshape(x[1], {K, 1, n, hd});
                            Val v = b.reshape(x[2], {K, 1, n, hd});
                            Val scores = b.matmul(q, kk, false, true) * k(b, 1.0 / std::sqrt(double(hd)));
                            Val qp = b.iota({n, n}, 0), kp = b.iota({n, n}, 1);
                            Val causal = b.compare(kp, "le", qp);
                            Val near = b.compare(qp - kp, "lt", b.scalar(3, DType::i32));
                            Val mask = logical_and(b, causal, near);
                            Val probs = b.softmax(b.select(mask, scores, k(b, -1e30)), -1);
                            Val mixed = b.reshape(b.matmul(probs, v), {H, n, hd});
                            return b.reshape(b.transpose(mixed, {1, 0, 2}), {n, H * hd});
                          }});
}

// Embedding lookup, a tied head and mean cross-entropy over the targets.
TEST(Autodiff, EmbeddingTiedHeadAndCrossEntropy) {
  expect_gradients_match({"cross_entropy", {}, {{{7, 4}}}, [](Builder& b, const std::vector<Val>& x) {
                            Val tokens = b.constant({2, 5, 5, 1}, TensorType(DType::i32, {4}));
                            Val targets = b.constant({5, 5, 1, 6}, TensorType(DType::i32, {4}));
                            Val h = b.gather(x[0], tokens, 0);
                            Val logits = b.matmul(h, x[0], false, true);  // [4, 7]
                            Val top = b.reduce(logits, "max", {-1}, true);
                            Val lse = b.log(b.sum(b.exp(logits - top), {-1}, true)) + top;
                            Val onehot = b.compare(b.iota({4, 7}, 1), "eq", b.reshape(targets, {4, 1}));
                            Val picked = b.sum(b.select(onehot, logits, k(b, 0)), {-1}, true);
                            return b.mean(lse - picked, {0, 1});
                          }});
}

TEST(Autodiff, ValuesTheLossDoesNotDependOnGetZeros) {
  Module m("t");
  Builder b = Builder::function(m, "f");
  Val x = b.param(f64({3}), "x");
  Val unused = b.param(f64({2, 2}), "unused");
  Val loss = b.sum(x * x, {0});
  auto grads = append_gradients(b, loss, {x, unused});
  ASSERT_TRUE(grads.ok()) << grads.error().message;
  b.ret({(*grads)[0], (*grads)[1]});
  ReferenceInterpreter interp(m);
  auto out = interp.run("f", {HostTensor::from_floats(DType::f32, {3}, {1, 2, 3}), HostTensor(DType::f64, {2, 2})});
  // f32 arguments to f64 parameters are a caller error, reported as such.
  EXPECT_FALSE(out.ok());
  HostTensor xv(DType::f64, {3});
  for (int i = 0; i < 3; ++i) xv.set(i, i + 1);
  out = interp.run("f", {xv, HostTensor(DType::f64, {2, 2})});
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ((*out)[0].doubles(), (std::vector<double>{2, 4, 6}));
  EXPECT_EQ((*out)[1].doubles(), (std::vector<double>(4, 0.0)));
}

TEST(Autodiff, LoopsOnTheGradientPathAreNamed) {
  Module m("t");
  Builder b = Builder::function(m, "f");
  Val x = b.param(f64({3}), "x");
  std::vector<Val> r = b.loop(b.scalar(2, DType::i64), {x}, [](Builder& body, Val, const std::vector<Val>& c) {
    return std::vector<Val>{c[0] * c[0]};
  });
  auto grads = append_gradients(b, b.sum(r[0], {0}), {x});
  ASSERT_FALSE(grads.ok());
  EXPECT_NE(grads.error().message.find("no gradient through loop"), std::string::npos) << grads.error().message;
}

TEST(Autodiff, AnOpWithoutARuleIsNamed) {
  Module m("t");
  Builder b = Builder::function(m, "f");
  Val x = b.param(f64({6}), "x");
  auto [values, indices] = b.topk(x, 2);
  auto grads = append_gradients(b, b.sum(values, {0}), {x});
  ASSERT_FALSE(grads.ok());
  EXPECT_NE(grads.error().message.find("no gradient rule for topk"), std::string::npos) << grads.error().message;
}

}  // namespace
}  // namespace graphc
