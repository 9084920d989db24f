// Elementwise ops on the reference interpreter against hand-computed values,
// including broadcasting edge cases, integer wrap-around and dtype rounding.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "backends/reference/interpreter.h"
#include "ir/builder.h"
#include "ir/verifier.h"

namespace graphc {
namespace {

using ::testing::HasSubstr;

// Builds `f(params...) -> body(params)`, runs it once and returns result 0.
HostTensor run1(const std::vector<HostTensor>& args,
                const std::function<Val(Builder&, const std::vector<Val>&)>& body) {
  Module m("t");
  Builder b = Builder::function(m, "f");
  std::vector<Val> params;
  for (const HostTensor& a : args) params.push_back(b.param(a.type()));
  b.ret({body(b, params)});
  Status s = verify_module(m);
  EXPECT_TRUE(s.ok()) << s.error().message;
  ReferenceInterpreter interp(m);
  Expected<std::vector<HostTensor>> out = interp.run("f", args);
  if (!out.ok()) throw GraphcError(out.error().message);
  return (*out)[0];
}

HostTensor f32s(std::vector<int64_t> shape, std::vector<float> v) {
  return HostTensor::from_floats(DType::f32, std::move(shape), std::move(v));
}
HostTensor ints(DType t, std::vector<int64_t> shape, std::vector<int64_t> v) {
  return HostTensor::from_ints(t, std::move(shape), std::move(v));
}
std::vector<double> values(const HostTensor& t) {
  std::vector<double> out;
  for (int64_t i = 0; i < t.numel(); ++i) out.push_back(t.get(i));
  return out;
}

TEST(ElementwiseOps, UnaryMath) {
  HostTensor x = f32s({4}, {0.25f, 1.0f, 4.0f, 9.0f});
  EXPECT_EQ(values(run1({x}, [](Builder& b, auto& p) { return b.sqrt(p[0]); })),
            (std::vector<double>{0.5, 1, 2, 3}));
  EXPECT_EQ(values(run1({x}, [](Builder& b, auto& p) { return b.rsqrt(p[0]); })),
            (std::vector<double>{2, 1, 0.5, 1.0f / 3.0f}));
  EXPECT_EQ(values(run1({x}, [](Builder& b, auto& p) { return b.neg(p[0]); })),
            (std::vector<double>{-0.25, -1, -4, -9}));
  HostTensor y = f32s({3}, {-1.5f, 0.0f, 2.0f});
  EXPECT_EQ(values(run1({y}, [](Builder& b, auto& p) { return b.abs(p[0]); })), (std::vector<double>{1.5, 0, 2}));
  auto e = values(run1({y}, [](Builder& b, auto& p) { return b.exp(p[0]); }));
  EXPECT_FLOAT_EQ(e[0], std::exp(-1.5f));
  EXPECT_FLOAT_EQ(e[1], 1.0f);
  auto t = values(run1({y}, [](Builder& b, auto& p) { return b.tanh(p[0]); }));
  EXPECT_FLOAT_EQ(t[2], std::tanh(2.0f));
  auto l = values(run1({x}, [](Builder& b, auto& p) { return b.log(p[0]); }));
  EXPECT_FLOAT_EQ(l[2], std::log(4.0f));
  auto s = values(run1({y}, [](Builder& b, auto& p) { return b.sin(p[0]); }));
  auto c = values(run1({y}, [](Builder& b, auto& p) { return b.cos(p[0]); }));
  EXPECT_FLOAT_EQ(s[2], std::sin(2.0f));
  EXPECT_FLOAT_EQ(c[0], std::cos(-1.5f));
}

TEST(ElementwiseOps, BinaryArithmetic) {
  HostTensor a = f32s({4}, {1, -2, 3, 8});
  HostTensor b = f32s({4}, {2, 2, -4, 0.5});
  auto op = [&](const char* name) {
    return values(run1({a, b}, [&](Builder& bl, auto& p) { return bl.op1(name, {p[0], p[1]}); }));
  };
  EXPECT_EQ(op("add"), (std::vector<double>{3, 0, -1, 8.5}));
  EXPECT_EQ(op("sub"), (std::vector<double>{-1, -4, 7, 7.5}));
  EXPECT_EQ(op("mul"), (std::vector<double>{2, -4, -12, 4}));
  EXPECT_EQ(op("div"), (std::vector<double>{0.5, -1, -0.75, 16}));
  EXPECT_EQ(op("max"), (std::vector<double>{2, 2, 3, 8}));
  EXPECT_EQ(op("min"), (std::vector<double>{1, -2, -4, 0.5}));
  EXPECT_EQ(op("pow"), (std::vector<double>{1, 4, 1.0f / 81.0f, std::sqrt(8.0f)}));
}

TEST(ElementwiseOps, BroadcastingEdgeCases) {
  // [3,1] + [1,4] -> [3,4]
  HostTensor col = f32s({3, 1}, {0, 10, 20});
  HostTensor row = f32s({1, 4}, {1, 2, 3, 4});
  HostTensor r = run1({col, row}, [](Builder& b, auto& p) { return p[0] + p[1]; });
  EXPECT_EQ(r.shape(), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(values(r), (std::vector<double>{1, 2, 3, 4, 11, 12, 13, 14, 21, 22, 23, 24}));
  // Rank-0 with rank-2, and a missing leading dim: [2,3] * [3].
  HostTensor m = f32s({2, 3}, {1, 2, 3, 4, 5, 6});
  r = run1({m, HostTensor::scalar(DType::f32, 2)}, [](Builder& b, auto& p) { return p[0] * p[1]; });
  EXPECT_EQ(values(r), (std::vector<double>{2, 4, 6, 8, 10, 12}));
  r = run1({m, f32s({3}, {1, 0, -1})}, [](Builder& b, auto& p) { return p[0] * p[1]; });
  EXPECT_EQ(values(r), (std::vector<double>{1, 0, -3, 4, 0, -6}));
  // A zero-size dim broadcasts against 1 and gives an empty result.
  r = run1({f32s({0, 3}, {}), f32s({1, 3}, {1, 2, 3})}, [](Builder& b, auto& p) { return p[0] + p[1]; });
  EXPECT_EQ(r.shape(), (std::vector<int64_t>{0, 3}));
  // [2,1,3] - [4,1] -> [2,4,3]
  HostTensor a3 = f32s({2, 1, 3}, {1, 2, 3, 4, 5, 6});
  HostTensor b2 = f32s({4, 1}, {0, 1, 2, 3});
  r = run1({a3, b2}, [](Builder& b, auto& p) { return p[0] - p[1]; });
  EXPECT_EQ(r.shape(), (std::vector<int64_t>{2, 4, 3}));
  EXPECT_EQ(r.get(1 * 12 + 3 * 3 + 2), 6.0 - 3.0);
}

TEST(ElementwiseOps, BroadcastErrorsNameBothShapes) {
  Module m("t");
  Builder b = Builder::function(m, "f");
  Val x = b.param(f32({2, 3}));
  Val y = b.param(f32({4}));
  try {
    b.add(x, y);
    FAIL() << "expected a GraphcError";
  } catch (const GraphcError& e) {
    EXPECT_THAT(e.what(), HasSubstr("add: shapes do not broadcast: [2,3] and [4]"));
    EXPECT_THAT(e.what(), HasSubstr("test_elementwise_ops.cpp:"));
  }
  Val s = b.param(f32({sym("seq"), 3}));
  Val t = b.param(f32({sym("len"), 3}));
  EXPECT_THROW(b.add(s, t), GraphcError);           // different symbols
  EXPECT_EQ((s + s).type(), f32({sym("seq"), 3}));  // same symbol
  Val i = b.param(i32({3}));
  EXPECT_THROW(b.add(x, i), GraphcError);  // dtypes differ
  EXPECT_THROW(b.exp(i), GraphcError);     // float only
}

TEST(ElementwiseOps, IntegersWrapAndDivideTowardZero) {
  HostTensor a = ints(DType::i32, {4}, {2147483647, -7, 7, -2147483648LL});
  HostTensor b = ints(DType::i32, {4}, {1, 2, -2, -1});
  auto op = [&](const char* name) {
    return values(run1({a, b}, [&](Builder& bl, auto& p) { return bl.op1(name, {p[0], p[1]}); }));
  };
  EXPECT_EQ(op("add"), (std::vector<double>{-2147483648.0, -5, 5, 2147483647.0}));
  EXPECT_EQ(op("div"), (std::vector<double>{2147483647.0, -3, -3, -2147483648.0}));
  Module m("t");
  Builder bl = Builder::function(m, "f");
  Val x = bl.param(i64({2}));
  Val y = bl.param(i64({2}));
  bl.ret({x / y});
  ReferenceInterpreter interp(m);
  auto r = interp.run("f", {ints(DType::i64, {2}, {1, 2}), ints(DType::i64, {2}, {1, 0})});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("integer division by zero"));
}

TEST(ElementwiseOps, CompareAndSelect) {
  HostTensor a = f32s({2, 3}, {1, 2, 3, 4, 5, 6});
  HostTensor th = f32s({1}, {3});
  auto cmp = [&](const char* p) {
    return values(run1({a, th}, [&](Builder& b, auto& ps) { return b.compare(ps[0], p, ps[1]); }));
  };
  EXPECT_EQ(cmp("lt"), (std::vector<double>{1, 1, 0, 0, 0, 0}));
  EXPECT_EQ(cmp("le"), (std::vector<double>{1, 1, 1, 0, 0, 0}));
  EXPECT_EQ(cmp("eq"), (std::vector<double>{0, 0, 1, 0, 0, 0}));
  EXPECT_EQ(cmp("ne"), (std::vector<double>{1, 1, 0, 1, 1, 1}));
  EXPECT_EQ(cmp("gt"), (std::vector<double>{0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(cmp("ge"), (std::vector<double>{0, 0, 1, 1, 1, 1}));
  // select broadcasts all three operands: a [2,1] condition, a [2,3] tensor, a scalar.
  HostTensor cond = ints(DType::boolean, {2, 1}, {1, 0});
  HostTensor r = run1({cond, a, HostTensor::scalar(DType::f32, -1)},
                      [](Builder& b, auto& p) { return b.select(p[0], p[1], p[2]); });
  EXPECT_EQ(values(r), (std::vector<double>{1, 2, 3, -1, -1, -1}));
  Module m("t");
  Builder b = Builder::function(m, "f");
  Val x = b.param(f32({2}));
  EXPECT_THROW(b.compare(x, "lesser", x), GraphcError);
  EXPECT_THROW(b.select(x, x, x), GraphcError);  // condition must be bool
}

TEST(ElementwiseOps, CastRoundsToTheTargetPrecision) {
  HostTensor x = f32s({5}, {1.00390625f, -2.7f, 3.9f, 1e10f, std::nanf("")});
  // bf16 keeps 8 significant bits: 1 + 2^-8 is a tie and rounds to even (1.0).
  auto bf = values(run1({x}, [](Builder& b, auto& p) { return b.cast(p[0], DType::bf16); }));
  EXPECT_EQ(bf[0], 1.0);
  EXPECT_EQ(bf[1], -2.703125);
  // f16 keeps 11 bits: 1 + 2^-8 is exact; 1e10 overflows to inf.
  auto h = values(run1({x}, [](Builder& b, auto& p) { return b.cast(p[0], DType::f16); }));
  EXPECT_EQ(h[0], 1.00390625);
  EXPECT_TRUE(std::isinf(h[3]));
  // Float to int truncates toward zero, saturates, and maps NaN to 0.
  auto i = values(run1({x}, [](Builder& b, auto& p) { return b.cast(p[0], DType::i32); }));
  EXPECT_EQ(i[1], -2);
  EXPECT_EQ(i[2], 3);
  EXPECT_EQ(i[3], 2147483647.0);
  EXPECT_EQ(i[4], 0);
  auto bo = values(run1({x}, [](Builder& b, auto& p) { return b.cast(p[0], DType::boolean); }));
  EXPECT_EQ(bo, (std::vector<double>{1, 1, 1, 1, 1}));
}

}  // namespace
}  // namespace graphc
