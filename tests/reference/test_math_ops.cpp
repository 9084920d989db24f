// Reductions (reduce, softmax, argmax, topk, cumsum), matmul and the
// generators (constant, iota, random_uniform): type inference and its error
// messages, and the reference semantics against hand-computed values. Odd
// shapes, length-1 dims, scalars, negative axes, keepdims, ties, NaN, values
// that would overflow or lose precision without care, and broadcast batches.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "backends/reference/interpreter.h"
#include "ir/builder.h"
#include "ir/op_registry.h"

namespace graphc {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

using Body = std::function<std::vector<Val>(Builder&, const std::vector<Val>&)>;

void build(Module& m, const std::vector<TensorType>& params, const Body& body) {
  Builder b = Builder::function(m, "f");
  std::vector<Val> p;
  for (const TensorType& t : params) p.push_back(b.param(t));
  b.ret(body(b, p));
}

// Builds `f(args...) -> body(args)` with parameters of the arguments' types,
// runs it once and returns every result.
std::vector<HostTensor> run(const std::vector<HostTensor>& args, const Body& body) {
  Module m("t");
  std::vector<TensorType> params;
  for (const HostTensor& a : args) params.push_back(a.type());
  build(m, params, body);
  ReferenceInterpreter interp(m);
  Expected<std::vector<HostTensor>> out = interp.run("f", args);
  if (!out.ok()) throw GraphcError(out.error().message);
  return *out;
}

HostTensor run1(const std::vector<HostTensor>& args, const std::function<Val(Builder&, const std::vector<Val>&)>& f) {
  return run(args, [&](Builder& b, const std::vector<Val>& p) { return std::vector<Val>{f(b, p)}; })[0];
}

// The message of the GraphcError that building `f` on `params` throws.
std::string build_error(const std::vector<TensorType>& params,
                        const std::function<Val(Builder&, const std::vector<Val>&)>& f) {
  Module m("t");
  try {
    build(m, params, [&](Builder& b, const std::vector<Val>& p) { return std::vector<Val>{f(b, p)}; });
  } catch (const GraphcError& e) {
    return e.what();
  }
  return "(built without error)";
}

// The type `f` infers on parameters of the given types.
TensorType inferred(const std::vector<TensorType>& params,
                    const std::function<Val(Builder&, const std::vector<Val>&)>& f) {
  Module m("t");
  TensorType t;
  build(m, params, [&](Builder& b, const std::vector<Val>& p) {
    Val v = f(b, p);
    t = v.type();
    return std::vector<Val>{v};
  });
  return t;
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
// Expects every element within `tol` of the expected value (NaN matches NaN).
void expect_near(const HostTensor& t, const std::vector<double>& want, double tol = 1e-6) {
  ASSERT_EQ(t.numel(), static_cast<int64_t>(want.size())) << t.str();
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i])) EXPECT_TRUE(std::isnan(t.get(i))) << "element " << i << " of " << t.str();
    else EXPECT_NEAR(t.get(i), want[i], tol) << "element " << i << " of " << t.str();
  }
}

using Shape64 = std::vector<int64_t>;
const double kNaN = std::nan("");

// ---- reduce ------------------------------------------------------------------

TEST(Reduce, SumOverOneAxisPositiveAndNegative) {
  HostTensor x = f32s({2, 3}, {1, 2, 3, 4, 5, 6});
  for (int64_t axis : {1, -1}) {
    HostTensor r = run1({x}, [&](Builder& b, auto& p) { return b.sum(p[0], {axis}); });
    EXPECT_EQ(r.shape(), (Shape64{2}));
    EXPECT_EQ(values(r), (std::vector<double>{6, 15}));
  }
  HostTensor cols = run1({x}, [](Builder& b, auto& p) { return b.sum(p[0], {-2}); });
  EXPECT_EQ(values(cols), (std::vector<double>{5, 7, 9}));
}

TEST(Reduce, KeepdimsKeepsLengthOneAxes) {
  HostTensor x = f32s({2, 3}, {1, 2, 3, 4, 5, 6});
  HostTensor r = run1({x}, [](Builder& b, auto& p) { return b.sum(p[0], {1}, /*keepdims=*/true); });
  EXPECT_EQ(r.shape(), (Shape64{2, 1}));
  EXPECT_EQ(values(r), (std::vector<double>{6, 15}));
}

TEST(Reduce, SeveralAxesOfAnOddShape) {
  // x[i][j][k] = 6i + 2j + k; summing over i and k gives 8j + 14.
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[i] = static_cast<float>(i);
  HostTensor x = f32s({2, 3, 2}, v);
  HostTensor r = run1({x}, [](Builder& b, auto& p) { return b.sum(p[0], {0, -1}); });
  EXPECT_EQ(r.shape(), (Shape64{3}));
  EXPECT_EQ(values(r), (std::vector<double>{14, 22, 30}));
  HostTensor k = run1({x}, [](Builder& b, auto& p) { return b.sum(p[0], {2, 0}, true); });
  EXPECT_EQ(k.shape(), (Shape64{1, 3, 1}));
  EXPECT_EQ(values(k), (std::vector<double>{14, 22, 30}));
}

TEST(Reduce, AllAxesGivesAScalar) {
  HostTensor x = f32s({2, 2}, {1, 2, 3, 4});
  HostTensor r = run1({x}, [](Builder& b, auto& p) { return b.sum(p[0], {0, 1}); });
  EXPECT_EQ(r.rank(), 0);
  EXPECT_EQ(values(r), (std::vector<double>{10}));
  HostTensor m = run1({x}, [](Builder& b, auto& p) { return b.reduce(p[0], "max", {1, 0}, true); });
  EXPECT_EQ(m.shape(), (Shape64{1, 1}));
  EXPECT_EQ(values(m), (std::vector<double>{4}));
}

TEST(Reduce, LengthOneAxis) {
  HostTensor x = f32s({1, 3}, {-1, 0.5f, 2});
  HostTensor r = run1({x}, [](Builder& b, auto& p) { return b.mean(p[0], {0}); });
  EXPECT_EQ(r.shape(), (Shape64{3}));
  EXPECT_EQ(values(r), (std::vector<double>{-1, 0.5, 2}));
}

TEST(Reduce, MeanDividesByTheReducedCount) {
  HostTensor x = f32s({3, 1}, {1, 2, 4});
  HostTensor r = run1({x}, [](Builder& b, auto& p) { return b.mean(p[0], {-2}); });
  EXPECT_EQ(r.shape(), (Shape64{1}));
  EXPECT_FLOAT_EQ(static_cast<float>(r.get(0)), 7.0f / 3.0f);
  HostTensor y = f32s({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  HostTensor m = run1({y}, [](Builder& b, auto& p) { return b.mean(p[0], {0, 2}); });
  EXPECT_EQ(values(m), (std::vector<double>{(1 + 2 + 5 + 6) / 4.0, (3 + 4 + 7 + 8) / 4.0}));
}

TEST(Reduce, AccumulatesInDouble) {
  // In float, 1e8 + 1 == 1e8, and the sum would come out 1 instead of 2.
  HostTensor x = f32s({4}, {1e8f, 1, -1e8f, 1});
  EXPECT_EQ(values(run1({x}, [](Builder& b, auto& p) { return b.sum(p[0], {0}); })), (std::vector<double>{2}));
}

TEST(Reduce, MaxPropagatesNaN) {
  HostTensor x = f32s({3, 2}, {1, NAN, 5, 2, -3, 7});
  HostTensor r = run1({x}, [](Builder& b, auto& p) { return b.reduce(p[0], "max", {0}); });
  expect_near(r, {5, kNaN});
  HostTensor neg = f32s({3}, {-5, -2, -9});
  EXPECT_EQ(values(run1({neg}, [](Builder& b, auto& p) { return b.reduce(p[0], "max", {0}); })),
            (std::vector<double>{-2}));
}

TEST(Reduce, Integers) {
  HostTensor x = ints(DType::i64, {3}, {-5, -9, 3});
  HostTensor m = run1({x}, [](Builder& b, auto& p) { return b.reduce(p[0], "max", {0}); });
  EXPECT_EQ(m.dtype(), DType::i64);
  EXPECT_EQ(m.ints(), (std::vector<int64_t>{3}));
  EXPECT_EQ(run1({x}, [](Builder& b, auto& p) { return b.sum(p[0], {0}); }).ints(), (std::vector<int64_t>{-11}));
  // i32 sums wrap like i32 add.
  HostTensor big = ints(DType::i32, {2}, {2147483647, 1});
  EXPECT_EQ(run1({big}, [](Builder& b, auto& p) { return b.sum(p[0], {0}); }).ints(),
            (std::vector<int64_t>{-2147483648LL}));
  // i64 beyond double precision stays exact.
  HostTensor exact = ints(DType::i64, {2}, {9007199254740993LL, 2});
  EXPECT_EQ(run1({exact}, [](Builder& b, auto& p) { return b.sum(p[0], {0}); }).ints(),
            (std::vector<int64_t>{9007199254740995LL}));
}

TEST(Reduce, EmptyAxesGiveTheIdentity) {
  HostTensor x = f32s({2, 0}, {});
  EXPECT_EQ(values(run1({x}, [](Builder& b, auto& p) { return b.sum(p[0], {1}); })), (std::vector<double>{0, 0}));
  EXPECT_EQ(values(run1({x}, [](Builder& b, auto& p) { return b.reduce(p[0], "max", {1}); })),
            (std::vector<double>{-INFINITY, -INFINITY}));
  expect_near(run1({x}, [](Builder& b, auto& p) { return b.mean(p[0], {1}); }), {kNaN, kNaN});
  HostTensor i = ints(DType::i32, {0, 2}, {});
  EXPECT_EQ(run1({i}, [](Builder& b, auto& p) { return b.reduce(p[0], "max", {0}); }).ints(),
            (std::vector<int64_t>{-2147483648LL, -2147483648LL}));
}

TEST(Reduce, SymbolicDims) {
  EXPECT_EQ(inferred({f32({sym("seq"), 4})}, [](Builder& b, auto& p) { return b.mean(p[0], {-1}, true); }),
            f32({sym("seq"), 1}));
  EXPECT_EQ(inferred({f32({sym("seq"), 4})}, [](Builder& b, auto& p) { return b.sum(p[0], {0}); }), f32({4}));
}

TEST(Reduce, TypeErrors) {
  EXPECT_THAT(build_error({i32({3})}, [](Builder& b, auto& p) { return b.mean(p[0], {0}); }),
              HasSubstr("reduce: mean expects a floating-point operand, got i32[3]"));
  EXPECT_THAT(build_error({boolean({3})}, [](Builder& b, auto& p) { return b.sum(p[0], {0}); }),
              HasSubstr("expects a numeric operand, got bool[3]"));
  EXPECT_THAT(build_error({f32({3})}, [](Builder& b, auto& p) { return b.reduce(p[0], "prod", {0}); }),
              HasSubstr("unknown kind \"prod\" (expected sum, mean or max)"));
  EXPECT_THAT(build_error({f32({2, 3})}, [](Builder& b, auto& p) { return b.sum(p[0], {}); }),
              HasSubstr("axes must not be empty (reducing f32[2,3])"));
  EXPECT_THAT(build_error({f32({2, 3})}, [](Builder& b, auto& p) { return b.sum(p[0], {1, -1}); }),
              HasSubstr("axes [1, -1] name axis 1 of f32[2,3] twice"));
  EXPECT_THAT(build_error({f32({2, 3})}, [](Builder& b, auto& p) { return b.sum(p[0], {2}); }),
              HasSubstr("axis 2 in [2] is out of range for f32[2,3] (rank 2)"));
  EXPECT_THAT(build_error({f32({2, 3})}, [](Builder& b, auto& p) { return b.sum(p[0], {0, -3}); }),
              HasSubstr("axis -3 in [0, -3] is out of range for f32[2,3] (rank 2)"));
  EXPECT_THAT(build_error({f32()}, [](Builder& b, auto& p) { return b.sum(p[0], {0}); }),
              HasSubstr("axis 0 in [0] is out of range for f32[] (rank 0)"));
  EXPECT_THAT(build_error({f32({3})}, [](Builder& b, auto& p) { return b.op1("reduce", {p[0]}, {{"axes", std::vector<int64_t>{0}}}); }),
              HasSubstr("missing attribute 'kind'"));
  EXPECT_THAT(build_error({f32({3})},
                          [](Builder& b, auto& p) {
                            return b.op1("reduce", {p[0]}, {{"kind", "sum"}, {"axes", int64_t{0}}});
                          }),
              HasSubstr("attribute 'axes' must be a"));
}

// ---- softmax -----------------------------------------------------------------

TEST(Softmax, RowsSumToOne) {
  const float ln3 = std::log(3.0f);
  HostTensor x = f32s({2, 2}, {0, ln3, 1, 1});
  HostTensor r = run1({x}, [](Builder& b, auto& p) { return b.softmax(p[0]); });
  EXPECT_EQ(r.type(), x.type());
  expect_near(r, {0.25, 0.75, 0.5, 0.5});
}

TEST(Softmax, NegativeAxisAcrossRows) {
  const float ln3 = std::log(3.0f);
  HostTensor x = f32s({2, 2}, {0, 2, ln3, 2});
  HostTensor r = run1({x}, [](Builder& b, auto& p) { return b.softmax(p[0], -2); });
  expect_near(r, {0.25, 0.5, 0.75, 0.5});
  HostTensor same = run1({x}, [](Builder& b, auto& p) { return b.softmax(p[0], 0); });
  EXPECT_EQ(values(same), values(r));
}

TEST(Softmax, LargeValuesDoNotOverflow) {
  // exp(1000) overflows even a double; subtracting the max keeps it finite.
  HostTensor x = f32s({1, 3}, {1000, 1001, -1e30f});
  HostTensor r = run1({x}, [](Builder& b, auto& p) { return b.softmax(p[0]); });
  const double e = std::exp(1.0);
  expect_near(r, {1 / (1 + e), e / (1 + e), 0});
  HostTensor neg = f32s({2}, {-1000, -1000});
  expect_near(run1({neg}, [](Builder& b, auto& p) { return b.softmax(p[0]); }), {0.5, 0.5});
}

TEST(Softmax, LengthOneAxisIsAllOnes) {
  HostTensor x = f32s({3, 1}, {-7, 0, 1e20f});
  EXPECT_EQ(values(run1({x}, [](Builder& b, auto& p) { return b.softmax(p[0]); })),
            (std::vector<double>{1, 1, 1}));
}

TEST(Softmax, TypeErrors) {
  EXPECT_THAT(build_error({i32({3})}, [](Builder& b, auto& p) { return b.softmax(p[0]); }),
              HasSubstr("softmax: expects a floating-point operand, got i32[3]"));
  EXPECT_THAT(build_error({f32({2, 3})}, [](Builder& b, auto& p) { return b.softmax(p[0], 2); }),
              HasSubstr("axis 2 is out of range for f32[2,3] (rank 2)"));
  EXPECT_THAT(build_error({f32({2, 3})}, [](Builder& b, auto& p) { return b.softmax(p[0], -3); }),
              HasSubstr("axis -3 is out of range for f32[2,3] (rank 2)"));
  EXPECT_THAT(build_error({f32()}, [](Builder& b, auto& p) { return b.softmax(p[0]); }),
              HasSubstr("axis -1 of a scalar f32[]: there is no axis"));
}

// ---- argmax ------------------------------------------------------------------

TEST(Argmax, FirstIndexOnTies) {
  HostTensor x = f32s({2, 4}, {1, 3, 3, 2, 5, -1, 5, 0});
  HostTensor r = run1({x}, [](Builder& b, auto& p) { return b.argmax(p[0]); });
  EXPECT_EQ(r.dtype(), DType::i32);
  EXPECT_EQ(r.shape(), (Shape64{2}));
  EXPECT_EQ(r.ints(), (std::vector<int64_t>{1, 0}));
}

TEST(Argmax, AlongTheFirstAxisWithNaN) {
  HostTensor x = f32s({2, 3}, {1, 7, NAN, 4, 7, 2});
  for (int64_t axis : {0, -2}) {
    HostTensor r = run1({x}, [&](Builder& b, auto& p) { return b.argmax(p[0], axis); });
    EXPECT_EQ(r.shape(), (Shape64{3}));
    EXPECT_EQ(r.ints(), (std::vector<int64_t>{1, 0, 0}));
  }
}

TEST(Argmax, NaNIsLargestAndTheFirstNaNWins) {
  HostTensor x = f32s({2, 3}, {1, NAN, NAN, NAN, 5, NAN});
  EXPECT_EQ(run1({x}, [](Builder& b, auto& p) { return b.argmax(p[0]); }).ints(), (std::vector<int64_t>{1, 0}));
}

TEST(Argmax, RankOneGivesAScalarAndIntegersCompareExactly) {
  // 2^53 and 2^53 + 1 are equal as doubles.
  HostTensor x = ints(DType::i64, {2}, {9007199254740992LL, 9007199254740993LL});
  HostTensor r = run1({x}, [](Builder& b, auto& p) { return b.argmax(p[0]); });
  EXPECT_EQ(r.rank(), 0);
  EXPECT_EQ(r.ints(), (std::vector<int64_t>{1}));
  HostTensor one = f32s({1, 3, 1}, {4, 2, 9});
  HostTensor s = run1({one}, [](Builder& b, auto& p) { return b.argmax(p[0], 1); });
  EXPECT_EQ(s.shape(), (Shape64{1, 1}));
  EXPECT_EQ(s.ints(), (std::vector<int64_t>{2}));
}

TEST(Argmax, TypeErrors) {
  EXPECT_EQ(inferred({f32({sym("seq"), 7})}, [](Builder& b, auto& p) { return b.argmax(p[0]); }), i32({sym("seq")}));
  EXPECT_THAT(build_error({f32({2, 3})}, [](Builder& b, auto& p) { return b.argmax(p[0], 2); }),
              HasSubstr("argmax: axis 2 is out of range for f32[2,3] (rank 2)"));
  EXPECT_THAT(build_error({f32()}, [](Builder& b, auto& p) { return b.argmax(p[0]); }),
              HasSubstr("axis -1 of a scalar f32[]: there is no axis"));
  EXPECT_THAT(build_error({f32({2, 0})}, [](Builder& b, auto& p) { return b.argmax(p[0]); }),
              HasSubstr("axis 1 of f32[2,0] is empty: there is no maximum"));
}

// ---- topk --------------------------------------------------------------------

TEST(Topk, DescendingWithTiesToTheLowerIndex) {
  HostTensor x = f32s({2, 5}, {1, 3, 3, 2, 3, 0, -1, 4, 4, 2});
  std::vector<HostTensor> r = run({x}, [](Builder& b, auto& p) {
    auto [v, i] = b.topk(p[0], 3);
    return std::vector<Val>{v, i};
  });
  EXPECT_EQ(r[0].dtype(), DType::f32);
  EXPECT_EQ(r[0].shape(), (Shape64{2, 3}));
  EXPECT_EQ(r[1].dtype(), DType::i32);
  EXPECT_EQ(values(r[0]), (std::vector<double>{3, 3, 3, 4, 4, 2}));
  EXPECT_EQ(r[1].ints(), (std::vector<int64_t>{1, 2, 4, 2, 3, 4}));
}

TEST(Topk, FullSortAndKOfOne) {
  HostTensor x = f32s({4}, {2, -1, 7, 2});
  std::vector<HostTensor> all = run({x}, [](Builder& b, auto& p) {
    auto [v, i] = b.topk(p[0], 4);
    return std::vector<Val>{v, i};
  });
  EXPECT_EQ(values(all[0]), (std::vector<double>{7, 2, 2, -1}));
  EXPECT_EQ(all[1].ints(), (std::vector<int64_t>{2, 0, 3, 1}));
  std::vector<HostTensor> one = run({x}, [](Builder& b, auto& p) {
    auto [v, i] = b.topk(p[0], 1);
    return std::vector<Val>{v, i};
  });
  EXPECT_EQ(one[0].shape(), (Shape64{1}));
  EXPECT_EQ(values(one[0]), (std::vector<double>{7}));
  EXPECT_EQ(one[1].ints(), (std::vector<int64_t>{2}));
}

TEST(Topk, IntegersAndNaN) {
  HostTensor x = ints(DType::i32, {1, 1, 3}, {-4, 10, -4});
  std::vector<HostTensor> r = run({x}, [](Builder& b, auto& p) {
    auto [v, i] = b.topk(p[0], 2);
    return std::vector<Val>{v, i};
  });
  EXPECT_EQ(r[0].dtype(), DType::i32);
  EXPECT_EQ(r[0].shape(), (Shape64{1, 1, 2}));
  EXPECT_EQ(r[0].ints(), (std::vector<int64_t>{10, -4}));
  EXPECT_EQ(r[1].ints(), (std::vector<int64_t>{1, 0}));

  HostTensor n = f32s({3}, {1, NAN, 2});
  std::vector<HostTensor> rn = run({n}, [](Builder& b, auto& p) {
    auto [v, i] = b.topk(p[0], 2);
    return std::vector<Val>{v, i};
  });
  expect_near(rn[0], {kNaN, 2});
  EXPECT_EQ(rn[1].ints(), (std::vector<int64_t>{1, 2}));
}

TEST(Topk, TypeErrors) {
  auto topk = [](int64_t k) {
    return [k](Builder& b, const std::vector<Val>& p) { return b.topk(p[0], k).first; };
  };
  EXPECT_EQ(inferred({f32({sym("seq"), 5})}, topk(2)), f32({sym("seq"), 2}));
  EXPECT_THAT(build_error({f32({2, 5})}, topk(0)),
              HasSubstr("topk: k = 0 is out of range for f32[2,5]: expected 1 <= k <= 5"));
  EXPECT_THAT(build_error({f32({2, 5})}, topk(6)), HasSubstr("k = 6 is out of range for f32[2,5]: expected 1 <= k <= 5"));
  EXPECT_THAT(build_error({f32({2, sym("vocab")})}, topk(2)),
              HasSubstr("the last dim of f32[2,vocab] must be static, it is 'vocab'"));
  EXPECT_THAT(build_error({f32()}, topk(1)), HasSubstr("expects an operand of rank >= 1, got the scalar f32[]"));
  EXPECT_THAT(build_error({boolean({3})}, topk(1)), HasSubstr("expects a numeric operand, got bool[3]"));
}

// ---- cumsum ------------------------------------------------------------------

TEST(Cumsum, AlongEitherAxis) {
  HostTensor x = f32s({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(values(run1({x}, [](Builder& b, auto& p) { return b.cumsum(p[0], 1); })),
            (std::vector<double>{1, 3, 6, 4, 9, 15}));
  EXPECT_EQ(values(run1({x}, [](Builder& b, auto& p) { return b.cumsum(p[0], -2); })),
            (std::vector<double>{1, 2, 3, 5, 7, 9}));
  HostTensor one = f32s({1, 2}, {3, 4});
  EXPECT_EQ(values(run1({one}, [](Builder& b, auto& p) { return b.cumsum(p[0], 0); })),
            (std::vector<double>{3, 4}));
}

TEST(Cumsum, AccumulatesInDoubleAndIntegersWrap) {
  // Each prefix is rounded to float once; the running total stays in double.
  HostTensor x = f32s({4}, {1e8f, 1, 1, -1e8f});
  EXPECT_EQ(values(run1({x}, [](Builder& b, auto& p) { return b.cumsum(p[0], 0); })),
            (std::vector<double>{1e8, 1e8, 1e8, 2}));
  HostTensor i = ints(DType::i32, {3}, {2147483647, 1, 1});
  EXPECT_EQ(run1({i}, [](Builder& b, auto& p) { return b.cumsum(p[0], -1); }).ints(),
            (std::vector<int64_t>{2147483647, -2147483648LL, -2147483647}));
}

TEST(Cumsum, TypeErrors) {
  EXPECT_THAT(build_error({f32({2, 3})}, [](Builder& b, auto& p) { return b.cumsum(p[0], 2); }),
              HasSubstr("cumsum: axis 2 is out of range for f32[2,3] (rank 2)"));
  EXPECT_THAT(build_error({f32()}, [](Builder& b, auto& p) { return b.cumsum(p[0], 0); }),
              HasSubstr("axis 0 of a scalar f32[]: there is no axis"));
  EXPECT_THAT(build_error({boolean({2})}, [](Builder& b, auto& p) { return b.cumsum(p[0], 0); }),
              HasSubstr("expects a numeric operand, got bool[2]"));
  EXPECT_THAT(build_error({f32({2})}, [](Builder& b, auto& p) { return b.op1("cumsum", {p[0]}); }),
              HasSubstr("missing attribute 'axis'"));
}

// ---- matmul ------------------------------------------------------------------

// a = [[1,2,3],[4,5,6]], b = [[7,8],[9,10],[11,12]]: a b = [[58,64],[139,154]].
TEST(Matmul, AllFourTransposeCombinations) {
  HostTensor a = f32s({2, 3}, {1, 2, 3, 4, 5, 6});
  HostTensor at = f32s({3, 2}, {1, 4, 2, 5, 3, 6});
  HostTensor b = f32s({3, 2}, {7, 8, 9, 10, 11, 12});
  HostTensor bt = f32s({2, 3}, {7, 9, 11, 8, 10, 12});
  const std::vector<double> want{58, 64, 139, 154};
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      HostTensor r = run1({ta ? at : a, tb ? bt : b},
                          [&](Builder& bl, auto& p) { return bl.matmul(p[0], p[1], ta, tb); });
      EXPECT_EQ(r.shape(), (Shape64{2, 2})) << ta << tb;
      EXPECT_EQ(values(r), want) << "transpose_a=" << ta << " transpose_b=" << tb;
    }
}

TEST(Matmul, LengthOneRowsAndColumns) {
  HostTensor a = f32s({1, 3}, {1, 2, 3});
  HostTensor b = f32s({3, 1}, {4, 5, 6});
  HostTensor r = run1({a, b}, [](Builder& bl, auto& p) { return bl.matmul(p[0], p[1]); });
  EXPECT_EQ(r.shape(), (Shape64{1, 1}));
  EXPECT_EQ(values(r), (std::vector<double>{32}));
  HostTensor outer = run1({b, a}, [](Builder& bl, auto& p) { return bl.matmul(p[0], p[1]); });
  EXPECT_EQ(outer.shape(), (Shape64{3, 3}));
  EXPECT_EQ(values(outer), (std::vector<double>{4, 8, 12, 5, 10, 15, 6, 12, 18}));
}

TEST(Matmul, BatchedWithBroadcastBatchDims) {
  // a: [2,1,2,2] holds I and 2I; b: [3,2,2] holds B0, B1, B2. out[i][j] = a_i b_j.
  HostTensor a = f32s({2, 1, 2, 2}, {1, 0, 0, 1, 2, 0, 0, 2});
  HostTensor b = f32s({3, 2, 2}, {1, 2, 3, 4, 0, 1, 1, 0, 1, 1, 1, 1});
  HostTensor r = run1({a, b}, [](Builder& bl, auto& p) { return bl.matmul(p[0], p[1]); });
  EXPECT_EQ(r.shape(), (Shape64{2, 3, 2, 2}));
  EXPECT_EQ(values(r), (std::vector<double>{1, 2, 3, 4, 0, 1, 1, 0, 1, 1, 1, 1,  //
                                            2, 4, 6, 8, 0, 2, 2, 0, 2, 2, 2, 2}));
}

TEST(Matmul, MissingBatchDimsBroadcastOnEitherSide) {
  // [2,1,2] x [2,3] -> [2,1,3]
  HostTensor a = f32s({2, 1, 2}, {1, 2, 3, 4});
  HostTensor b = f32s({2, 3}, {1, 0, 2, 0, 1, 3});
  HostTensor r = run1({a, b}, [](Builder& bl, auto& p) { return bl.matmul(p[0], p[1]); });
  EXPECT_EQ(r.shape(), (Shape64{2, 1, 3}));
  EXPECT_EQ(values(r), (std::vector<double>{1, 2, 8, 3, 4, 18}));
  // [2,3] x [2,3,1] -> [2,2,1]
  HostTensor m = f32s({2, 3}, {1, 2, 3, 4, 5, 6});
  HostTensor v = f32s({2, 3, 1}, {1, 1, 1, 1, 0, -1});
  HostTensor s = run1({m, v}, [](Builder& bl, auto& p) { return bl.matmul(p[0], p[1]); });
  EXPECT_EQ(s.shape(), (Shape64{2, 2, 1}));
  EXPECT_EQ(values(s), (std::vector<double>{6, 15, -2, -2}));
  EXPECT_EQ(inferred({f32({2, 3, 4}), f32({4, 5})}, [](Builder& bl, auto& p) { return bl.matmul(p[0], p[1]); }),
            f32({2, 3, 5}));
}

TEST(Matmul, BatchedWithBothTransposes) {
  // Logical a: [2,1,2] = {[1,2]}, {[3,4]}, stored [2,2,1]; logical b: [1,2,3] =
  // [[1,0,2],[0,1,3]], stored [1,3,2].
  HostTensor a = f32s({2, 2, 1}, {1, 2, 3, 4});
  HostTensor b = f32s({1, 3, 2}, {1, 0, 0, 1, 2, 3});
  HostTensor r = run1({a, b}, [](Builder& bl, auto& p) { return bl.matmul(p[0], p[1], true, true); });
  EXPECT_EQ(r.shape(), (Shape64{2, 1, 3}));
  EXPECT_EQ(values(r), (std::vector<double>{1, 2, 8, 3, 4, 18}));
}

TEST(Matmul, AccumulatesInDouble) {
  HostTensor a = f32s({1, 4}, {1e8f, 1, -1e8f, 1});
  HostTensor b = f32s({4, 1}, {1, 1, 1, 1});
  EXPECT_EQ(values(run1({a, b}, [](Builder& bl, auto& p) { return bl.matmul(p[0], p[1]); })),
            (std::vector<double>{2}));
}

TEST(Matmul, SymbolicDims) {
  EXPECT_EQ(inferred({f32({sym("seq"), 4}), f32({4, 2})}, [](Builder& bl, auto& p) { return bl.matmul(p[0], p[1]); }),
            f32({sym("seq"), 2}));
  EXPECT_EQ(inferred({f32({sym("h"), sym("seq"), 8}), f32({sym("h"), sym("seq"), 8})},
                     [](Builder& bl, auto& p) { return bl.matmul(p[0], p[1], false, true); }),
            f32({sym("h"), sym("seq"), sym("seq")}));
}

TEST(Matmul, TypeErrors) {
  auto mm = [](bool ta = false, bool tb = false) {
    return [ta, tb](Builder& bl, const std::vector<Val>& p) { return bl.matmul(p[0], p[1], ta, tb); };
  };
  EXPECT_THAT(build_error({f32({4, 64}), f32({32, 8})}, mm()), HasSubstr("matmul: inner dims differ: [4,64] x [32,8]"));
  EXPECT_THAT(build_error({f32({4, 64}), f32({64, 8})}, mm(false, true)),
              HasSubstr("inner dims differ: [4,64] x [64,8] with transpose_b"));
  EXPECT_THAT(build_error({f32({4, 64}), f32({4, 8})}, mm(true, true)),
              HasSubstr("inner dims differ: [4,64] x [4,8] with transpose_a and transpose_b"));
  EXPECT_THAT(build_error({f32({sym("n"), 4}), f32({sym("m"), 4})}, mm(true)),
              HasSubstr("inner dims differ: [n,4] x [m,4] with transpose_a"));
  EXPECT_THAT(build_error({f32({2, 3, 4}), f32({3, 4, 5})}, mm()),
              HasSubstr("batch dims do not broadcast: [2,3,4] x [3,4,5] (batch [2] and [3])"));
  EXPECT_THAT(build_error({f32({4}), f32({4, 2})}, mm()), HasSubstr("expects operands of rank >= 2, got f32[4] x f32[4,2]"));
  EXPECT_THAT(build_error({f32({2, 4}), i32({4, 2})}, mm()), HasSubstr("operand dtypes differ: f32[2,4] and i32[4,2]"));
  EXPECT_THAT(build_error({i32({2, 4}), i32({4, 2})}, mm()),
              HasSubstr("expects floating-point operands, got i32[2,4] and i32[4,2]"));
}

// ---- constant ----------------------------------------------------------------

TEST(Constant, Splats) {
  HostTensor r = run1({}, [](Builder& b, auto&) { return b.constant(1.5, f32({2, 3})); });
  EXPECT_EQ(r.shape(), (Shape64{2, 3}));
  EXPECT_EQ(values(r), (std::vector<double>(6, 1.5)));
  HostTensor i = run1({}, [](Builder& b, auto&) { return b.scalar(-7, DType::i32); });
  EXPECT_EQ(i.type(), i32());
  EXPECT_EQ(i.ints(), (std::vector<int64_t>{-7}));
  // An integer splat of a floating dtype.
  HostTensor f = run1({}, [](Builder& b, auto&) {
    return b.op1("constant", {}, {{"dtype", DType::f32}, {"shape", Shape{2}}, {"value", int64_t{3}}});
  });
  EXPECT_EQ(values(f), (std::vector<double>{3, 3}));
  HostTensor h = run1({}, [](Builder& b, auto&) { return b.constant(0.1, TensorType(DType::bf16, {1})); });
  EXPECT_EQ(h.floats()[0], round_to_dtype(0.1f, DType::bf16));
}

TEST(Constant, FullLists) {
  HostTensor f = run1({}, [](Builder& b, auto&) { return b.constant({1, 2.5, -3, 4}, f32({2, 2})); });
  EXPECT_EQ(values(f), (std::vector<double>{1, 2.5, -3, 4}));
  HostTensor i = run1({}, [](Builder& b, auto&) { return b.constant({5, -6, 7}, i64({3, 1})); });
  EXPECT_EQ(i.shape(), (Shape64{3, 1}));
  EXPECT_EQ(i.ints(), (std::vector<int64_t>{5, -6, 7}));
  HostTensor bl = run1({}, [](Builder& b, auto&) { return b.constant({1, 0}, boolean({2})); });
  EXPECT_EQ(bl.ints(), (std::vector<int64_t>{1, 0}));
  HostTensor s = run1({}, [](Builder& b, auto&) { return b.constant({9}, f32()); });
  EXPECT_EQ(s.rank(), 0);
  EXPECT_EQ(values(s), (std::vector<double>{9}));
}

TEST(Constant, TypeErrors) {
  auto constant = [](DType t, Shape shape, Attribute value) {
    return [=](Builder& b, const std::vector<Val>&) {
      return b.op1("constant", {}, {{"dtype", t}, {"shape", shape}, {"value", value}});
    };
  };
  EXPECT_THAT(build_error({}, constant(DType::f32, {2, 2}, std::vector<double>{1, 2, 3})),
              HasSubstr("constant: value has 3 elements, the shape has 4"));
  EXPECT_THAT(build_error({}, constant(DType::i32, {2}, std::vector<int64_t>{1, 2, 3})),
              HasSubstr("value has 3 elements, the shape has 2"));
  EXPECT_THAT(build_error({}, constant(DType::i32, {2}, std::vector<double>{1, 2})),
              HasSubstr("a list of floats is not a value of dtype i32 (write integers)"));
  EXPECT_THAT(build_error({}, constant(DType::i32, {}, 1.5)),
              HasSubstr("value 1.5 is a float but dtype is i32 (write an integer)"));
  EXPECT_THAT(build_error({}, constant(DType::i32, {}, int64_t{3000000000})),
              HasSubstr("value 3000000000 does not fit i32"));
  EXPECT_THAT(build_error({}, constant(DType::boolean, {2}, std::vector<int64_t>{1, 2})),
              HasSubstr("value 2 does not fit bool"));
  EXPECT_THAT(build_error({}, constant(DType::f32, {sym("n")}, 1.0)),
              HasSubstr("shape [n] must be static, found 'n'"));
  EXPECT_THAT(build_error({}, constant(DType::f32, {-2}, 1.0)), HasSubstr("shape [-2] has a negative dim"));
  EXPECT_THAT(build_error({}, constant(DType::f32, {2}, "one")),
              HasSubstr("value must be a number or a list of numbers, got \"one\""));
}

// ---- iota --------------------------------------------------------------------

TEST(Iota, IndexAlongEachAxis) {
  HostTensor rows = run1({}, [](Builder& b, auto&) { return b.iota({2, 3}, 0); });
  EXPECT_EQ(rows.type(), i32({2, 3}));
  EXPECT_EQ(rows.ints(), (std::vector<int64_t>{0, 0, 0, 1, 1, 1}));
  HostTensor cols = run1({}, [](Builder& b, auto&) { return b.iota({2, 3}, -1); });
  EXPECT_EQ(cols.ints(), (std::vector<int64_t>{0, 1, 2, 0, 1, 2}));
  HostTensor mid = run1({}, [](Builder& b, auto&) { return b.iota({2, 2, 1}, 1, DType::f32); });
  EXPECT_EQ(mid.dtype(), DType::f32);
  EXPECT_EQ(values(mid), (std::vector<double>{0, 1, 0, 1}));
  HostTensor one = run1({}, [](Builder& b, auto&) { return b.iota({1}, 0, DType::i64); });
  EXPECT_EQ(one.type(), i64({1}));
  EXPECT_EQ(one.ints(), (std::vector<int64_t>{0}));
}

TEST(Iota, SymbolicShapeIsBoundByTheCall) {
  HostTensor x = f32s({3}, {0, 0, 0});
  Module m("t");
  build(m, {f32({sym("n")})}, [](Builder& b, const std::vector<Val>&) {
    return std::vector<Val>{b.iota({sym("n"), 2}, 0)};
  });
  ReferenceInterpreter interp(m);
  auto out = interp.run("f", {x});
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ((*out)[0].shape(), (Shape64{3, 2}));
  EXPECT_EQ((*out)[0].ints(), (std::vector<int64_t>{0, 0, 1, 1, 2, 2}));
}

TEST(Iota, TypeErrors) {
  EXPECT_THAT(build_error({}, [](Builder& b, auto&) { return b.iota({2, 3}, 2); }),
              HasSubstr("iota: axis 2 is out of range for shape [2,3] (rank 2)"));
  EXPECT_THAT(build_error({}, [](Builder& b, auto&) { return b.iota({}, 0); }),
              HasSubstr("axis 0 is out of range for shape [] (rank 0)"));
  EXPECT_THAT(build_error({}, [](Builder& b, auto&) { return b.iota({2}, 0, DType::boolean); }),
              HasSubstr("dtype must be numeric, got bool"));
  EXPECT_THAT(build_error({}, [](Builder& b, auto&) { return b.iota({2, -1}, 0); }),
              HasSubstr("shape [2,-1] has a negative dim"));
}

// ---- random_uniform ----------------------------------------------------------

std::vector<HostTensor> draw_with_seed(int64_t seed, Shape shape, DType t = DType::f32) {
  HostTensor s(DType::i64, {});
  s.set_int(0, seed);
  return run({s}, [&](Builder& b, const std::vector<Val>& p) {
    auto [v, next] = b.random_uniform(p[0], shape, t);
    return std::vector<Val>{v, next};
  });
}

// The exact numbers of the formula in generator_kernels.cpp, which a JIT must
// reproduce bit for bit.
TEST(RandomUniform, MatchesTheDocumentedFormula) {
  std::vector<HostTensor> r = draw_with_seed(0, {4});
  EXPECT_EQ(values(r[0]), (std::vector<double>{5673494 / 16777216.0, 14406200 / 16777216.0, 1987422 / 16777216.0,
                                               12035185 / 16777216.0}));
  EXPECT_EQ(r[1].type(), i64());
  EXPECT_EQ(r[1].ints(), (std::vector<int64_t>{2720858781877447050LL}));

  r = draw_with_seed(42, {2, 2});
  EXPECT_EQ(values(r[0]), (std::vector<double>{11881276 / 16777216.0, 2832215 / 16777216.0, 8522850 / 16777216.0,
                                               16412664 / 16777216.0}));
  EXPECT_EQ(r[1].ints(), (std::vector<int64_t>{2821093481113257733LL}));

  // bf16 and f16 take the top 8 and 11 bits, so values are exact and below 1.
  r = draw_with_seed(-7, {4}, DType::bf16);
  EXPECT_EQ(values(r[0]), (std::vector<double>{243 / 256.0, 194 / 256.0, 29 / 256.0, 141 / 256.0}));
  EXPECT_EQ(r[1].ints(), (std::vector<int64_t>{8013219218019400015LL}));
  r = draw_with_seed(-7, {4}, DType::f16);
  EXPECT_EQ(values(r[0]), (std::vector<double>{1944 / 2048.0, 1552 / 2048.0, 232 / 2048.0, 1128 / 2048.0}));
}

TEST(RandomUniform, SameSeedSameNumbersAndTheChainMoves) {
  std::vector<HostTensor> a = draw_with_seed(1234, {3, 5});
  std::vector<HostTensor> b = draw_with_seed(1234, {3, 5});
  EXPECT_EQ(values(a[0]), values(b[0]));
  EXPECT_EQ(a[1].ints(), b[1].ints());
  EXPECT_NE(a[1].ints()[0], 1234);
  std::vector<HostTensor> c = draw_with_seed(a[1].ints()[0], {3, 5});
  EXPECT_NE(values(c[0]), values(a[0]));
  EXPECT_NE(c[1].ints(), a[1].ints());
  // Seed 0 does not map to itself.
  EXPECT_NE(draw_with_seed(0, {1})[1].ints()[0], 0);
  // Element j depends only on the seed and j, not on the shape.
  std::vector<HostTensor> flat = draw_with_seed(1234, {15});
  EXPECT_EQ(values(flat[0]), values(a[0]));
  std::vector<HostTensor> prefix = draw_with_seed(1234, {4});
  const std::vector<double> all = values(a[0]);
  EXPECT_EQ(values(prefix[0]), std::vector<double>(all.begin(), all.begin() + 4));
}

TEST(RandomUniform, RangeAndMean) {
  for (DType t : {DType::f32, DType::bf16, DType::f16}) {
    HostTensor v = draw_with_seed(99, {100, 100}, t)[0];
    double sum = 0, lo = 1, hi = 0;
    for (double x : values(v)) {
      sum += x;
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
    EXPECT_GE(lo, 0.0);
    EXPECT_LT(hi, 1.0);
    EXPECT_GT(hi, 0.99);  // 10000 draws reach close to 1
    EXPECT_NEAR(sum / 10000, 0.5, 0.02) << dtype_name(t);
  }
}

TEST(RandomUniform, ScalarAndSymbolicShapes) {
  HostTensor s = draw_with_seed(0, {})[0];
  EXPECT_EQ(s.rank(), 0);
  EXPECT_EQ(values(s), (std::vector<double>{5673494 / 16777216.0}));
  Module m("t");
  build(m, {i64(), f32({sym("n")})}, [](Builder& b, const std::vector<Val>& p) {
    auto [v, next] = b.random_uniform(p[0], {sym("n"), 2});
    return std::vector<Val>{v};
  });
  ReferenceInterpreter interp(m);
  auto out = interp.run("f", {HostTensor::scalar(DType::i64, 42), f32s({2}, {0, 0})});
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ((*out)[0].shape(), (Shape64{2, 2}));
  EXPECT_EQ(values((*out)[0]), values(draw_with_seed(42, {4})[0]));
}

TEST(RandomUniform, TypeErrors) {
  auto ru = [](DType t = DType::f32) {
    return [t](Builder& b, const std::vector<Val>& p) { return b.random_uniform(p[0], {2}, t).first; };
  };
  EXPECT_THAT(build_error({i32()}, ru()), HasSubstr("random_uniform: seed must be i64[], got i32[]"));
  EXPECT_THAT(build_error({i64({1})}, ru()), HasSubstr("seed must be i64[], got i64[1]"));
  EXPECT_THAT(build_error({i64()}, ru(DType::i32)), HasSubstr("dtype must be floating-point, got i32"));
}

// Every op of these families has reference semantics and documented attributes.
TEST(MathOps, RegisteredWithDocumentedAttributes) {
  for (const char* name : {"reduce", "softmax", "argmax", "topk", "cumsum", "matmul", "constant", "iota",
                           "random_uniform"}) {
    const OpDef* def = OpRegistry::instance().find(name);
    ASSERT_NE(def, nullptr) << name;
    EXPECT_FALSE(def->summary.empty()) << name;
    for (const AttrSpec& a : def->attrs) EXPECT_FALSE(a.doc.empty()) << name << "." << a.name;
    EXPECT_NE(ReferenceKernels::instance().find(name), nullptr) << name;
  }
  const OpDef& reduce = OpRegistry::instance().get("reduce");
  EXPECT_EQ(reduce.find_attr("keepdims")->default_value, Attribute(false));
  EXPECT_FALSE(reduce.find_attr("axes")->default_value.has_value());
  EXPECT_EQ(OpRegistry::instance().get("softmax").find_attr("axis")->default_value, Attribute(int64_t{-1}));
  EXPECT_EQ(OpRegistry::instance().get("iota").find_attr("dtype")->default_value, Attribute(DType::i32));
  EXPECT_EQ(OpRegistry::instance().get("random_uniform").find_attr("dtype")->default_value, Attribute(DType::f32));
}

}  // namespace
}  // namespace graphc
