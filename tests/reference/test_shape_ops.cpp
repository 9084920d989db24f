// Shape ops (reshape, transpose, broadcast, slice, concat, dynamic_slice,
// dynamic_update_slice, gather): type inference, its error messages, and the
// reference semantics against hand-computed values. Odd shapes, length-1 and
// zero-size dims, scalars, negative axes, clamped starts and symbolic dims.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "backends/reference/interpreter.h"
#include "ir/builder.h"
#include "ir/op_registry.h"

namespace graphc {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

using Body = std::function<Val(Builder&, const std::vector<Val>&)>;

// Builds `f(params...) -> body(params)` with parameters of the given types.
void build(Module& m, const std::vector<TensorType>& params, const Body& body) {
  Builder b = Builder::function(m, "f");
  std::vector<Val> p;
  for (const TensorType& t : params) p.push_back(b.param(t));
  b.ret({body(b, p)});
}

Expected<HostTensor> try_run(const Module& m, const std::vector<HostTensor>& args) {
  ReferenceInterpreter interp(m);
  Expected<std::vector<HostTensor>> out = interp.run("f", args);
  if (!out.ok()) return out.error();
  return (*out)[0];
}

HostTensor run(const Module& m, const std::vector<HostTensor>& args) {
  Expected<HostTensor> out = try_run(m, args);
  if (!out.ok()) throw GraphcError(out.error().message);
  return *out;
}

// Builds with parameters of the arguments' (static) types and runs once.
HostTensor run1(const std::vector<HostTensor>& args, const Body& body) {
  Module m("t");
  std::vector<TensorType> params;
  for (const HostTensor& a : args) params.push_back(a.type());
  build(m, params, body);
  return run(m, args);
}

// The message of the GraphcError that building `body` on `params` throws.
std::string build_error(const std::vector<TensorType>& params, const Body& body) {
  Module m("t");
  try {
    build(m, params, body);
  } catch (const GraphcError& e) {
    return e.what();
  }
  return "(built without error)";
}

// The type that inference gives the result of `body`.
std::string result_type(const std::vector<TensorType>& params, const Body& body) {
  Module m("t");
  std::string out;
  build(m, params, [&](Builder& b, const std::vector<Val>& p) {
    Val v = body(b, p);
    out = v.type().str();
    return v;
  });
  return out;
}

HostTensor f32s(std::vector<int64_t> shape, std::vector<float> v) {
  return HostTensor::from_floats(DType::f32, std::move(shape), std::move(v));
}
HostTensor ints(DType t, std::vector<int64_t> shape, std::vector<int64_t> v) {
  return HostTensor::from_ints(t, std::move(shape), std::move(v));
}
// 0, 1, ..., n-1 as f32 of the given shape.
HostTensor counting(std::vector<int64_t> shape) {
  std::vector<float> v(product(shape));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  return f32s(std::move(shape), std::move(v));
}
HostTensor i32_scalar(int64_t v) { return ints(DType::i32, {}, {v}); }
HostTensor i64_scalar(int64_t v) { return ints(DType::i64, {}, {v}); }

using Shape64 = std::vector<int64_t>;
using Floats = std::vector<float>;
using Ints = std::vector<int64_t>;

TensorType t(DType d, Shape s) { return TensorType(d, std::move(s)); }
TensorType tf(Shape s) { return TensorType(DType::f32, std::move(s)); }

// ---- reshape ---------------------------------------------------------------

TEST(Reshape, KeepsRowMajorOrder) {
  HostTensor r = run1({counting({2, 3})}, [](Builder& b, auto& p) { return b.reshape(p[0], {3, 2}); });
  EXPECT_EQ(r.shape(), (Shape64{3, 2}));
  EXPECT_EQ(r.floats(), (Floats{0, 1, 2, 3, 4, 5}));
}

TEST(Reshape, InfersMinusOne) {
  HostTensor r = run1({counting({4, 6})}, [](Builder& b, auto& p) { return b.reshape(p[0], {-1, 8}); });
  EXPECT_EQ(r.shape(), (Shape64{3, 8}));
  EXPECT_EQ(r.floats()[23], 23.0f);
  EXPECT_EQ(result_type({tf({4, 6})}, [](Builder& b, auto& p) { return b.reshape(p[0], {2, -1, 1}); }),
            "f32[2,12,1]");
}

TEST(Reshape, ScalarsAndLengthOneDims) {
  HostTensor r = run1({f32s({}, {7})}, [](Builder& b, auto& p) { return b.reshape(p[0], {1, 1}); });
  EXPECT_EQ(r.shape(), (Shape64{1, 1}));
  EXPECT_EQ(r.floats(), (Floats{7}));
  r = run1({f32s({1, 1, 1}, {-2})}, [](Builder& b, auto& p) { return b.reshape(p[0], {}); });
  EXPECT_EQ(r.shape(), (Shape64{}));
  EXPECT_EQ(r.floats(), (Floats{-2}));
  r = run1({f32s({}, {3})}, [](Builder& b, auto& p) { return b.reshape(p[0], {-1}); });
  EXPECT_EQ(r.shape(), (Shape64{1}));
}

TEST(Reshape, ZeroSize) {
  HostTensor r = run1({counting({0, 3})}, [](Builder& b, auto& p) { return b.reshape(p[0], {3, 0, 5}); });
  EXPECT_EQ(r.shape(), (Shape64{3, 0, 5}));
  EXPECT_EQ(r.numel(), 0);
  EXPECT_EQ(result_type({tf({0, 3})}, [](Builder& b, auto& p) { return b.reshape(p[0], {-1, 3}); }), "f32[0,3]");
  // 0 * seq is 0 whatever seq is.
  EXPECT_EQ(result_type({tf({0, sym("seq")})}, [](Builder& b, auto& p) { return b.reshape(p[0], {0}); }), "f32[0]");
}

TEST(Reshape, IntegerAndBoolDtypes) {
  HostTensor r = run1({ints(DType::i64, {2, 2}, {1, -2, 3, INT64_MIN})},
                      [](Builder& b, auto& p) { return b.reshape(p[0], {4}); });
  EXPECT_EQ(r.dtype(), DType::i64);
  EXPECT_EQ(r.ints(), (Ints{1, -2, 3, INT64_MIN}));
  r = run1({ints(DType::boolean, {3}, {1, 0, 1})}, [](Builder& b, auto& p) { return b.reshape(p[0], {3, 1}); });
  EXPECT_EQ(r.dtype(), DType::boolean);
  EXPECT_EQ(r.ints(), (Ints{1, 0, 1}));
}

TEST(Reshape, SymbolicDimsCancel) {
  const Dim seq = sym("seq");
  EXPECT_EQ(result_type({tf({seq, 1024})}, [](Builder& b, auto& p) { return b.reshape(p[0], {-1, 4, 256}); }),
            "f32[seq,4,256]");
  EXPECT_EQ(
      result_type({tf({seq, 4, 256})}, [&](Builder& b, auto& p) { return b.reshape(p[0], {seq, 1024}); }),
      "f32[seq,1024]");
  EXPECT_EQ(result_type({tf({sym("batch"), seq, 8})},
                        [&](Builder& b, auto& p) { return b.reshape(p[0], {seq, sym("batch"), 2, -1}); }),
            "f32[seq,batch,2,4]");
  EXPECT_EQ(result_type({tf({2, seq, 3})}, [&](Builder& b, auto& p) { return b.reshape(p[0], {6, -1}); }),
            "f32[6,seq]");
}

TEST(Reshape, SymbolicRunsForEverySeq) {
  Module m("t");
  build(m, {tf({sym("seq"), 6})}, [](Builder& b, auto& p) {
    Val r = b.reshape(p[0], {-1, 2, 3});
    EXPECT_EQ(r.type().str(), "f32[seq,2,3]");
    return r;
  });
  for (int64_t seq : {2, 5}) {
    HostTensor r = run(m, {counting({seq, 6})});
    EXPECT_EQ(r.shape(), (Shape64{seq, 2, 3}));
    EXPECT_EQ(r.floats(), counting({seq, 2, 3}).floats());
  }
}

TEST(Reshape, Errors) {
  const Dim seq = sym("seq");
  EXPECT_THAT(build_error({tf({4, 6})}, [](Builder& b, auto& p) { return b.reshape(p[0], {5, 5}); }),
              AllOf(HasSubstr("reshape"), HasSubstr("cannot reshape [4,6] (24 elements) to [5,5] (25 elements)")));
  EXPECT_THAT(build_error({tf({4, 6})}, [](Builder& b, auto& p) { return b.reshape(p[0], {-1, 5}); }),
              HasSubstr("cannot reshape [4,6] (24 elements) to [-1,5]: 24 is not a multiple of 5"));
  EXPECT_THAT(build_error({tf({4, 6})}, [](Builder& b, auto& p) { return b.reshape(p[0], {-1, -1}); }),
              HasSubstr("shape [-1,-1] has more than one -1"));
  EXPECT_THAT(build_error({tf({4, 6})}, [](Builder& b, auto& p) { return b.reshape(p[0], {-2, -12}); }),
              HasSubstr("negative dim -2"));
  EXPECT_THAT(build_error({tf({0, 6})}, [](Builder& b, auto& p) { return b.reshape(p[0], {0, -1}); }),
              HasSubstr("ambiguous"));
  EXPECT_THAT(build_error({tf({seq, 4})}, [](Builder& b, auto& p) { return b.reshape(p[0], {8}); }),
              HasSubstr("cannot reshape [seq,4] (4*seq elements) to [8] (8 elements)"));
  EXPECT_THAT(build_error({tf({seq, 4})}, [](Builder& b, auto& p) { return b.reshape(p[0], {-1}); }),
              HasSubstr("the -1 dim would be 4*seq, which is not a single dim"));
  EXPECT_THAT(build_error({tf({seq, 4})}, [](Builder& b, auto& p) { return b.reshape(p[0], {-1, 3}); }),
              HasSubstr("the static factor 4 of 4*seq is not a multiple of 3"));
  EXPECT_THAT(build_error({tf({seq, 6})}, [](Builder& b, auto& p) { return b.reshape(p[0], {sym("batch"), 6}); }),
              HasSubstr("symbol 'batch' of the target does not cancel against the input"));
  EXPECT_THAT(build_error({tf({seq, 6})}, [&](Builder& b, auto& p) { return b.reshape(p[0], {seq, seq, -1}); }),
              HasSubstr("symbol 'seq'"));
}

// ---- transpose -------------------------------------------------------------

TEST(Transpose, Matrix) {
  HostTensor r = run1({counting({2, 3})}, [](Builder& b, auto& p) { return b.transpose(p[0], {1, 0}); });
  EXPECT_EQ(r.shape(), (Shape64{3, 2}));
  EXPECT_EQ(r.floats(), (Floats{0, 3, 1, 4, 2, 5}));
}

TEST(Transpose, RankThreeWithLengthOneDim) {
  // x[i][j][k] = 3i + k with j of length 1; result[k][i][j] = x[i][j][k].
  HostTensor r = run1({counting({2, 1, 3})}, [](Builder& b, auto& p) { return b.transpose(p[0], {2, 0, 1}); });
  EXPECT_EQ(r.shape(), (Shape64{3, 2, 1}));
  EXPECT_EQ(r.floats(), (Floats{0, 3, 1, 4, 2, 5}));
  // result[i][k][j] = x[i][j][k], for a [2,2,3] input.
  r = run1({counting({2, 2, 3})}, [](Builder& b, auto& p) { return b.transpose(p[0], {0, 2, 1}); });
  EXPECT_EQ(r.shape(), (Shape64{2, 3, 2}));
  EXPECT_EQ(r.floats(), (Floats{0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11}));
}

TEST(Transpose, ScalarZeroSizeAndInts) {
  HostTensor r = run1({f32s({}, {4.5f})}, [](Builder& b, auto& p) { return b.transpose(p[0], {}); });
  EXPECT_EQ(r.shape(), (Shape64{}));
  EXPECT_EQ(r.floats(), (Floats{4.5f}));
  r = run1({counting({0, 2})}, [](Builder& b, auto& p) { return b.transpose(p[0], {1, 0}); });
  EXPECT_EQ(r.shape(), (Shape64{2, 0}));
  r = run1({ints(DType::i32, {2, 2}, {1, 2, -3, 4})}, [](Builder& b, auto& p) { return b.transpose(p[0], {1, 0}); });
  EXPECT_EQ(r.dtype(), DType::i32);
  EXPECT_EQ(r.ints(), (Ints{1, -3, 2, 4}));
}

TEST(Transpose, BfloatKeepsValues) {
  HostTensor x = HostTensor::from_floats(DType::bf16, {2, 2}, {1.5f, -2.0f, 0.25f, 3.0f});
  HostTensor r = run1({x}, [](Builder& b, auto& p) { return b.transpose(p[0], {1, 0}); });
  EXPECT_EQ(r.dtype(), DType::bf16);
  EXPECT_EQ(r.floats(), (Floats{1.5f, 0.25f, -2.0f, 3.0f}));
}

TEST(Transpose, Symbolic) {
  Module m("t");
  build(m, {tf({sym("seq"), 2})}, [](Builder& b, auto& p) {
    Val r = b.transpose(p[0], {1, 0});
    EXPECT_EQ(r.type().str(), "f32[2,seq]");
    return r;
  });
  HostTensor r = run(m, {counting({3, 2})});
  EXPECT_EQ(r.shape(), (Shape64{2, 3}));
  EXPECT_EQ(r.floats(), (Floats{0, 2, 4, 1, 3, 5}));
}

TEST(Transpose, Errors) {
  EXPECT_THAT(build_error({tf({2, 3})}, [](Builder& b, auto& p) { return b.transpose(p[0], {0, 0}); }),
              HasSubstr("perm [0, 0] is not a permutation of 2 axes"));
  EXPECT_THAT(build_error({tf({2, 3})}, [](Builder& b, auto& p) { return b.transpose(p[0], {0}); }),
              HasSubstr("perm [0] is not a permutation of 2 axes"));
  EXPECT_THAT(build_error({tf({2, 3})}, [](Builder& b, auto& p) { return b.transpose(p[0], {0, 2}); }),
              HasSubstr("perm [0, 2] is not a permutation of 2 axes"));
  EXPECT_THAT(build_error({tf({2, 3})}, [](Builder& b, auto& p) { return b.transpose(p[0], {-1, 0}); }),
              HasSubstr("perm [-1, 0] is not a permutation of 2 axes"));
}

// ---- broadcast -------------------------------------------------------------

TEST(Broadcast, RightAligned) {
  HostTensor r = run1({f32s({3}, {1, 2, 3})}, [](Builder& b, auto& p) { return b.broadcast(p[0], {2, 3}); });
  EXPECT_EQ(r.shape(), (Shape64{2, 3}));
  EXPECT_EQ(r.floats(), (Floats{1, 2, 3, 1, 2, 3}));
  r = run1({f32s({2, 1}, {1, 2})}, [](Builder& b, auto& p) { return b.broadcast(p[0], {2, 3}); });
  EXPECT_EQ(r.floats(), (Floats{1, 1, 1, 2, 2, 2}));
  r = run1({f32s({2, 1}, {1, 2})}, [](Builder& b, auto& p) { return b.broadcast(p[0], {2, 2, 3}); });
  EXPECT_EQ(r.shape(), (Shape64{2, 2, 3}));
  EXPECT_EQ(r.floats(), (Floats{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2}));
  r = run1({f32s({1, 3}, {1, 2, 3})}, [](Builder& b, auto& p) { return b.broadcast(p[0], {1, 3}); });
  EXPECT_EQ(r.floats(), (Floats{1, 2, 3}));
}

TEST(Broadcast, ScalarZeroSizeAndBool) {
  HostTensor r = run1({f32s({}, {9})}, [](Builder& b, auto& p) { return b.broadcast(p[0], {2, 2}); });
  EXPECT_EQ(r.floats(), (Floats{9, 9, 9, 9}));
  r = run1({f32s({}, {9})}, [](Builder& b, auto& p) { return b.broadcast(p[0], {}); });
  EXPECT_EQ(r.shape(), (Shape64{}));
  EXPECT_EQ(r.floats(), (Floats{9}));
  r = run1({f32s({1}, {9})}, [](Builder& b, auto& p) { return b.broadcast(p[0], {2, 0}); });
  EXPECT_EQ(r.shape(), (Shape64{2, 0}));
  r = run1({ints(DType::boolean, {2, 1}, {1, 0})}, [](Builder& b, auto& p) { return b.broadcast(p[0], {2, 2}); });
  EXPECT_EQ(r.dtype(), DType::boolean);
  EXPECT_EQ(r.ints(), (Ints{1, 1, 0, 0}));
}

TEST(Broadcast, ToSymbolicShape) {
  // The second parameter only binds seq.
  Module m("t");
  build(m, {tf({1, 2}), tf({sym("seq")})}, [](Builder& b, auto& p) {
    Val r = b.broadcast(p[0], {sym("seq"), 2});
    EXPECT_EQ(r.type().str(), "f32[seq,2]");
    return r;
  });
  HostTensor r = run(m, {f32s({1, 2}, {5, 6}), counting({3})});
  EXPECT_EQ(r.shape(), (Shape64{3, 2}));
  EXPECT_EQ(r.floats(), (Floats{5, 6, 5, 6, 5, 6}));
  EXPECT_EQ(result_type({tf({sym("seq"), 1})}, [](Builder& b, auto& p) { return b.broadcast(p[0], {sym("seq"), 4}); }),
            "f32[seq,4]");
}

TEST(Broadcast, Errors) {
  EXPECT_THAT(build_error({tf({3, 2})}, [](Builder& b, auto& p) { return b.broadcast(p[0], {4, 3}); }),
              HasSubstr("cannot broadcast [3,2] to [4,3]: operand dim 0 (3) is neither 1 nor 4"));
  EXPECT_THAT(build_error({tf({2, 3})}, [](Builder& b, auto& p) { return b.broadcast(p[0], {3}); }),
              HasSubstr("the operand has rank 2, more than the target's 1"));
  EXPECT_THAT(build_error({tf({sym("seq")})}, [](Builder& b, auto& p) { return b.broadcast(p[0], {4}); }),
              HasSubstr("operand dim 0 (seq) is neither 1 nor 4"));
  EXPECT_THAT(build_error({tf({1})}, [](Builder& b, auto& p) { return b.broadcast(p[0], {-1}); }),
              HasSubstr("negative dim -1"));
}

// ---- slice -----------------------------------------------------------------

TEST(Slice, UnitStride) {
  // [[0 1 2 3] [4 5 6 7] [8 9 10 11]][1:3, 1:3]
  HostTensor r = run1({counting({3, 4})}, [](Builder& b, auto& p) { return b.slice(p[0], {1, 1}, {3, 3}); });
  EXPECT_EQ(r.shape(), (Shape64{2, 2}));
  EXPECT_EQ(r.floats(), (Floats{5, 6, 9, 10}));
}

TEST(Slice, Strided) {
  HostTensor r = run1({counting({5})}, [](Builder& b, auto& p) { return b.slice(p[0], {1}, {5}, {2}); });
  EXPECT_EQ(r.floats(), (Floats{1, 3}));
  r = run1({counting({7})}, [](Builder& b, auto& p) { return b.slice(p[0], {0}, {7}, {3}); });
  EXPECT_EQ(r.floats(), (Floats{0, 3, 6}));
  r = run1({counting({7})}, [](Builder& b, auto& p) { return b.slice(p[0], {2}, {7}, {INT64_MAX}); });
  EXPECT_EQ(r.floats(), (Floats{2}));
  r = run1({counting({3, 4})}, [](Builder& b, auto& p) { return b.slice(p[0], {0, 1}, {3, 4}, {2, 2}); });
  EXPECT_EQ(r.shape(), (Shape64{2, 2}));
  EXPECT_EQ(r.floats(), (Floats{1, 3, 9, 11}));
}

TEST(Slice, EmptyScalarAndInts) {
  HostTensor r = run1({counting({3, 2})}, [](Builder& b, auto& p) { return b.slice(p[0], {2, 0}, {2, 2}); });
  EXPECT_EQ(r.shape(), (Shape64{0, 2}));
  r = run1({counting({3})}, [](Builder& b, auto& p) { return b.slice(p[0], {3}, {3}); });
  EXPECT_EQ(r.shape(), (Shape64{0}));
  r = run1({f32s({}, {8})}, [](Builder& b, auto& p) { return b.slice(p[0], {}, {}); });
  EXPECT_EQ(r.shape(), (Shape64{}));
  EXPECT_EQ(r.floats(), (Floats{8}));
  r = run1({ints(DType::i64, {4}, {10, 20, 30, 40})}, [](Builder& b, auto& p) { return b.slice(p[0], {3}, {4}); });
  EXPECT_EQ(r.ints(), (Ints{40}));
}

TEST(Slice, SymbolicAxisTakenWhole) {
  const Dim seq = sym("seq");
  Module m("t");
  build(m, {tf({seq, 4})}, [&](Builder& b, auto& p) {
    Val r = b.op1("slice", {p[0]}, {{"start", Shape{0, 1}}, {"limit", Shape{seq, 3}}});
    EXPECT_EQ(r.type().str(), "f32[seq,2]");
    return r;
  });
  HostTensor r = run(m, {counting({2, 4})});
  EXPECT_EQ(r.floats(), (Floats{1, 2, 5, 6}));
}

TEST(Slice, Errors) {
  const Dim seq = sym("seq");
  EXPECT_THAT(build_error({tf({3, 4})}, [](Builder& b, auto& p) { return b.slice(p[0], {2, 0}, {1, 4}); }),
              HasSubstr("axis 0 needs 0 <= start <= limit <= 3, got start 2, limit 1"));
  EXPECT_THAT(build_error({tf({3, 4})}, [](Builder& b, auto& p) { return b.slice(p[0], {0, 0}, {3, 5}); }),
              HasSubstr("axis 1 needs 0 <= start <= limit <= 4, got start 0, limit 5"));
  EXPECT_THAT(build_error({tf({3, 4})}, [](Builder& b, auto& p) { return b.slice(p[0], {-1, 0}, {3, 4}); }),
              HasSubstr("got start -1"));
  EXPECT_THAT(build_error({tf({3, 4})}, [](Builder& b, auto& p) { return b.slice(p[0], {0, 0}, {3, 4}, {1, 0}); }),
              HasSubstr("stride 0 on axis 1 is not positive"));
  EXPECT_THAT(build_error({tf({3, 4})}, [](Builder& b, auto& p) { return b.slice(p[0], {0}, {3}); }),
              HasSubstr("operand f32[3,4]: start [0] has 1 entries, expected 2 (one per axis)"));
  EXPECT_THAT(build_error({tf({seq, 4})}, [](Builder& b, auto& p) { return b.slice(p[0], {0, 0}, {2, 4}); }),
              HasSubstr("axis 0 is seq; a slice of a symbolic axis must have start 0, limit seq and stride 1"));
  EXPECT_THAT(build_error({tf({seq, 4})},
                          [&](Builder& b, auto& p) {
                            return b.op1("slice", {p[0]}, {{"start", Shape{1, 0}}, {"limit", Shape{seq, 4}}});
                          }),
              HasSubstr("got start 1, limit seq, stride 1"));
  EXPECT_THAT(build_error({tf({3, 4})},
                          [&](Builder& b, auto& p) {
                            return b.op1("slice", {p[0]}, {{"start", Shape{seq, 0}}, {"limit", Shape{3, 4}}});
                          }),
              HasSubstr("attribute 'start' must be integers, found symbol 'seq'"));
  EXPECT_THAT(build_error({tf({3, 4}), tf({seq})},
                          [&](Builder& b, auto& p) {
                            return b.op1("slice", {p[0]}, {{"start", Shape{0, 0}}, {"limit", Shape{seq, 4}}});
                          }),
              HasSubstr("axis 0 is 3, but its limit is the symbol 'seq'"));
}

// ---- concat ----------------------------------------------------------------

TEST(Concat, InnerAxisAndNegativeAxis) {
  HostTensor a = f32s({2, 1}, {1, 2});
  HostTensor c = f32s({2, 2}, {3, 4, 5, 6});
  for (int64_t axis : {1, -1}) {
    HostTensor r = run1({a, c}, [axis](Builder& b, auto& p) { return b.concat({p[0], p[1]}, axis); });
    EXPECT_EQ(r.shape(), (Shape64{2, 3}));
    EXPECT_EQ(r.floats(), (Floats{1, 3, 4, 2, 5, 6}));
  }
}

TEST(Concat, OuterAxisWithZeroSizeOperand) {
  HostTensor r = run1({f32s({1, 2}, {1, 2}), counting({0, 2}), f32s({2, 2}, {3, 4, 5, 6})},
                      [](Builder& b, auto& p) { return b.concat({p[0], p[1], p[2]}, 0); });
  EXPECT_EQ(r.shape(), (Shape64{3, 2}));
  EXPECT_EQ(r.floats(), (Floats{1, 2, 3, 4, 5, 6}));
}

TEST(Concat, SingleOperandRankOneAndInts) {
  HostTensor r = run1({counting({3})}, [](Builder& b, auto& p) { return b.concat({p[0]}, 0); });
  EXPECT_EQ(r.floats(), (Floats{0, 1, 2}));
  r = run1({ints(DType::i64, {2}, {1, 2}), ints(DType::i64, {1}, {-3})},
           [](Builder& b, auto& p) { return b.concat({p[0], p[1]}, -1); });
  EXPECT_EQ(r.dtype(), DType::i64);
  EXPECT_EQ(r.ints(), (Ints{1, 2, -3}));
}

TEST(Concat, SymbolicNonAxisDim) {
  const Dim seq = sym("seq");
  Module m("t");
  build(m, {tf({seq, 1}), tf({seq, 2})}, [](Builder& b, auto& p) {
    Val r = b.concat({p[0], p[1]}, 1);
    EXPECT_EQ(r.type().str(), "f32[seq,3]");
    return r;
  });
  HostTensor r = run(m, {f32s({2, 1}, {1, 2}), f32s({2, 2}, {3, 4, 5, 6})});
  EXPECT_EQ(r.floats(), (Floats{1, 3, 4, 2, 5, 6}));
}

TEST(Concat, Errors) {
  EXPECT_THAT(build_error({tf({2}), t(DType::i32, {2})}, [](Builder& b, auto& p) { return b.concat({p[0], p[1]}, 0); }),
              HasSubstr("operand dtypes differ: operand 0 is f32[2], operand 1 is i32[2]"));
  EXPECT_THAT(build_error({tf({2, 3}), tf({2, 4})}, [](Builder& b, auto& p) { return b.concat({p[0], p[1]}, 0); }),
              HasSubstr("operand 1 is f32[2,4], but dim 1 must be 3 like operand 0 f32[2,3] (only axis 0 may differ)"));
  EXPECT_THAT(build_error({tf({2, 3}), tf({2})}, [](Builder& b, auto& p) { return b.concat({p[0], p[1]}, 0); }),
              HasSubstr("operand ranks differ"));
  EXPECT_THAT(build_error({tf({2, 3}), tf({2, 3})}, [](Builder& b, auto& p) { return b.concat({p[0], p[1]}, 2); }),
              HasSubstr("axis 2 is out of range for operand 0 f32[2,3]"));
  EXPECT_THAT(build_error({tf({})}, [](Builder& b, auto& p) { return b.concat({p[0]}, 0); }),
              HasSubstr("axis 0 is out of range for operand 0 f32[]"));
  EXPECT_THAT(build_error({tf({sym("seq"), 2}), tf({1, 2})},
                          [](Builder& b, auto& p) { return b.concat({p[0], p[1]}, 0); }),
              HasSubstr("the concatenation axis 0 must be static, not 'seq'"));
  EXPECT_THAT(build_error({}, [](Builder& b, auto& p) { return b.concat({}, 0); }), HasSubstr("operands"));
}

// ---- dynamic_slice ---------------------------------------------------------

TEST(DynamicSlice, StartsAreClampedSoTheSliceFits) {
  Module m("t");
  build(m, {tf({4, 5}), t(DType::i32, {}), t(DType::i64, {})},
        [](Builder& b, auto& p) { return b.dynamic_slice(p[0], {p[1], p[2]}, {2, 3}); });
  const HostTensor x = counting({4, 5});
  HostTensor r = run(m, {x, i32_scalar(1), i64_scalar(2)});
  EXPECT_EQ(r.shape(), (Shape64{2, 3}));
  EXPECT_EQ(r.floats(), (Floats{7, 8, 9, 12, 13, 14}));
  // Past the end: starts become (4-2, 5-3) = (2, 2).
  r = run(m, {x, i32_scalar(3), i64_scalar(40)});
  EXPECT_EQ(r.floats(), (Floats{12, 13, 14, 17, 18, 19}));
  // Negative: starts become 0.
  r = run(m, {x, i32_scalar(-1), i64_scalar(INT64_MIN)});
  EXPECT_EQ(r.floats(), (Floats{0, 1, 2, 5, 6, 7}));
}

TEST(DynamicSlice, ScalarZeroSizeAndBool) {
  HostTensor r = run1({f32s({}, {3})}, [](Builder& b, auto& p) { return b.dynamic_slice(p[0], {}, {}); });
  EXPECT_EQ(r.shape(), (Shape64{}));
  EXPECT_EQ(r.floats(), (Floats{3}));
  r = run1({counting({3}), i32_scalar(7)}, [](Builder& b, auto& p) { return b.dynamic_slice(p[0], {p[1]}, {0}); });
  EXPECT_EQ(r.shape(), (Shape64{0}));
  r = run1({ints(DType::boolean, {3}, {1, 0, 1}), i32_scalar(1)},
           [](Builder& b, auto& p) { return b.dynamic_slice(p[0], {p[1]}, {2}); });
  EXPECT_EQ(r.ints(), (Ints{0, 1}));
  r = run1({counting({3}), i32_scalar(2)}, [](Builder& b, auto& p) { return b.dynamic_slice(p[0], {p[1]}, {3}); });
  EXPECT_EQ(r.floats(), (Floats{0, 1, 2}));
}

TEST(DynamicSlice, SymbolicSizeCheckedAtRunTime) {
  // Reads the first seq rows of a static buffer from a run-time row.
  const Dim seq = sym("seq");
  Module m("t");
  build(m, {tf({4, 2}), t(DType::i64, {}), tf({seq})}, [&](Builder& b, auto& p) {
    Val r = b.op1("dynamic_slice", {p[0], p[1], p[1]}, {{"sizes", Shape{seq, 1}}});
    EXPECT_EQ(r.type().str(), "f32[seq,1]");
    return r;
  });
  HostTensor r = run(m, {counting({4, 2}), i64_scalar(3), counting({2})});
  EXPECT_EQ(r.shape(), (Shape64{2, 1}));
  EXPECT_EQ(r.floats(), (Floats{5, 7}));  // rows 2..3 (start clamped from 3), column 1
  Expected<HostTensor> bad = try_run(m, {counting({4, 2}), i64_scalar(0), counting({5})});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("size 5 on axis 0 exceeds the dim 4"));
}

TEST(DynamicSlice, Errors) {
  const TensorType i32s = t(DType::i32, {});
  EXPECT_THAT(build_error({tf({4, 5}), i32s}, [](Builder& b, auto& p) { return b.dynamic_slice(p[0], {p[1]}, {1, 1}); }),
              HasSubstr("needs one start index per axis of f32[4,5]: 2 expected, 1 given"));
  EXPECT_THAT(build_error({tf({4}), tf({})}, [](Builder& b, auto& p) { return b.dynamic_slice(p[0], {p[1]}, {1}); }),
              HasSubstr("start index 0 must be a scalar i32 or i64, got f32[]"));
  EXPECT_THAT(build_error({tf({4}), t(DType::i32, {1})},
                          [](Builder& b, auto& p) { return b.dynamic_slice(p[0], {p[1]}, {1}); }),
              HasSubstr("start index 0 must be a scalar i32 or i64, got i32[1]"));
  EXPECT_THAT(build_error({tf({4}), i32s}, [](Builder& b, auto& p) { return b.dynamic_slice(p[0], {p[1]}, {1, 1}); }),
              HasSubstr("sizes [1, 1] has 2 entries for operand f32[4] of rank 1"));
  EXPECT_THAT(build_error({tf({4}), i32s}, [](Builder& b, auto& p) { return b.dynamic_slice(p[0], {p[1]}, {5}); }),
              HasSubstr("size 5 on axis 0 exceeds the dim 4 of f32[4]"));
  EXPECT_THAT(build_error({tf({4}), i32s}, [](Builder& b, auto& p) { return b.dynamic_slice(p[0], {p[1]}, {-1}); }),
              HasSubstr("negative size -1 on axis 0"));
}

// ---- dynamic_update_slice --------------------------------------------------

TEST(DynamicUpdateSlice, WritesAtClampedStarts) {
  Module m("t");
  build(m, {tf({3, 4}), tf({2, 2}), t(DType::i32, {}), t(DType::i32, {})},
        [](Builder& b, auto& p) { return b.dynamic_update_slice(p[0], p[1], {p[2], p[3]}); });
  const HostTensor x = counting({3, 4});
  const HostTensor u = f32s({2, 2}, {-1, -2, -3, -4});
  HostTensor r = run(m, {x, u, i32_scalar(1), i32_scalar(1)});
  EXPECT_EQ(r.floats(), (Floats{0, 1, 2, 3, 4, -1, -2, 7, 8, -3, -4, 11}));
  // (5, -3) clamps to (3-2, 0) = (1, 0).
  r = run(m, {x, u, i32_scalar(5), i32_scalar(-3)});
  EXPECT_EQ(r.floats(), (Floats{0, 1, 2, 3, -1, -2, 6, 7, -3, -4, 10, 11}));
  // (0, 3) clamps to (0, 2).
  r = run(m, {x, u, i32_scalar(0), i32_scalar(3)});
  EXPECT_EQ(r.floats(), (Floats{0, 1, -1, -2, 4, 5, -3, -4, 8, 9, 10, 11}));
}

TEST(DynamicUpdateSlice, ScalarZeroSizeAndInts) {
  HostTensor r = run1({f32s({}, {1}), f32s({}, {2})},
                      [](Builder& b, auto& p) { return b.dynamic_update_slice(p[0], p[1], {}); });
  EXPECT_EQ(r.shape(), (Shape64{}));
  EXPECT_EQ(r.floats(), (Floats{2}));
  r = run1({counting({3}), counting({0}), i64_scalar(1)},
           [](Builder& b, auto& p) { return b.dynamic_update_slice(p[0], p[1], {p[2]}); });
  EXPECT_EQ(r.floats(), (Floats{0, 1, 2}));
  r = run1({ints(DType::i32, {4}, {1, 2, 3, 4}), ints(DType::i32, {4}, {5, 6, 7, 8}), i64_scalar(2)},
           [](Builder& b, auto& p) { return b.dynamic_update_slice(p[0], p[1], {p[2]}); });
  EXPECT_EQ(r.ints(), (Ints{5, 6, 7, 8}));
}

TEST(DynamicUpdateSlice, SymbolicUpdateIntoStaticBuffer) {
  // A KV-cache write: seq new rows into a buffer of 4.
  Module m("t");
  build(m, {tf({4, 2}), tf({sym("seq"), 2}), t(DType::i64, {}), t(DType::i64, {})}, [](Builder& b, auto& p) {
    Val r = b.dynamic_update_slice(p[0], p[1], {p[2], p[3]});
    EXPECT_EQ(r.type().str(), "f32[4,2]");
    return r;
  });
  HostTensor r = run(m, {counting({4, 2}), f32s({2, 2}, {-1, -2, -3, -4}), i64_scalar(3), i64_scalar(0)});
  EXPECT_EQ(r.floats(), (Floats{0, 1, 2, 3, -1, -2, -3, -4}));
  Expected<HostTensor> bad = try_run(m, {counting({4, 2}), counting({5, 2}), i64_scalar(0), i64_scalar(0)});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("size 5 on axis 0 exceeds the dim 4"));
}

TEST(DynamicUpdateSlice, Errors) {
  const TensorType i32s = t(DType::i32, {});
  EXPECT_THAT(build_error({tf({4}), t(DType::i32, {2}), i32s},
                          [](Builder& b, auto& p) { return b.dynamic_update_slice(p[0], p[1], {p[2]}); }),
              HasSubstr("update i32[2] does not have the dtype of the operand f32[4]"));
  EXPECT_THAT(build_error({tf({4, 4}), tf({2}), i32s, i32s},
                          [](Builder& b, auto& p) { return b.dynamic_update_slice(p[0], p[1], {p[2], p[3]}); }),
              HasSubstr("update f32[2] does not have the rank of the operand f32[4,4]"));
  EXPECT_THAT(build_error({tf({4, 4}), tf({2, 5}), i32s, i32s},
                          [](Builder& b, auto& p) { return b.dynamic_update_slice(p[0], p[1], {p[2], p[3]}); }),
              HasSubstr("update f32[2,5] is larger than the operand f32[4,4] on axis 1"));
  EXPECT_THAT(build_error({tf({4, 4}), tf({2, 2}), i32s},
                          [](Builder& b, auto& p) { return b.dynamic_update_slice(p[0], p[1], {p[2]}); }),
              HasSubstr("2 expected, 1 given"));
  EXPECT_THAT(build_error({tf({4}), tf({2}), t(DType::boolean, {})},
                          [](Builder& b, auto& p) { return b.dynamic_update_slice(p[0], p[1], {p[2]}); }),
              HasSubstr("start index 0 must be a scalar i32 or i64, got bool[]"));
}

// ---- gather ----------------------------------------------------------------

TEST(Gather, RowsOfATable) {
  HostTensor r = run1({counting({4, 2}), ints(DType::i32, {3}, {3, 0, 3})},
                      [](Builder& b, auto& p) { return b.gather(p[0], p[1]); });
  EXPECT_EQ(r.shape(), (Shape64{3, 2}));
  EXPECT_EQ(r.floats(), (Floats{6, 7, 0, 1, 6, 7}));
}

TEST(Gather, InnerAndNegativeAxis) {
  // table [[0 1 2] [3 4 5]], take columns 2, 0.
  for (int64_t axis : {1, -1}) {
    HostTensor r = run1({counting({2, 3}), ints(DType::i64, {2}, {2, 0})},
                        [axis](Builder& b, auto& p) { return b.gather(p[0], p[1], axis); });
    EXPECT_EQ(r.shape(), (Shape64{2, 2}));
    EXPECT_EQ(r.floats(), (Floats{2, 0, 5, 3}));
  }
  // A middle axis with matrix indices: result [2, 2, 1, 2].
  HostTensor r = run1({counting({2, 3, 2}), ints(DType::i32, {2, 1}, {2, 1})},
                      [](Builder& b, auto& p) { return b.gather(p[0], p[1], 1); });
  EXPECT_EQ(r.shape(), (Shape64{2, 2, 1, 2}));
  EXPECT_EQ(r.floats(), (Floats{4, 5, 2, 3, 10, 11, 8, 9}));
}

TEST(Gather, ScalarAndZeroSizeIndices) {
  HostTensor r = run1({counting({3, 2}), i32_scalar(1)}, [](Builder& b, auto& p) { return b.gather(p[0], p[1]); });
  EXPECT_EQ(r.shape(), (Shape64{2}));
  EXPECT_EQ(r.floats(), (Floats{2, 3}));
  r = run1({counting({3}), i32_scalar(2)}, [](Builder& b, auto& p) { return b.gather(p[0], p[1]); });
  EXPECT_EQ(r.shape(), (Shape64{}));
  EXPECT_EQ(r.floats(), (Floats{2}));
  r = run1({counting({3, 2}), ints(DType::i32, {0}, {})}, [](Builder& b, auto& p) { return b.gather(p[0], p[1]); });
  EXPECT_EQ(r.shape(), (Shape64{0, 2}));
  r = run1({ints(DType::i64, {3}, {7, 8, 9}), ints(DType::i32, {2, 2}, {2, 2, 0, 1})},
           [](Builder& b, auto& p) { return b.gather(p[0], p[1]); });
  EXPECT_EQ(r.shape(), (Shape64{2, 2}));
  EXPECT_EQ(r.ints(), (Ints{9, 9, 7, 8}));
}

TEST(Gather, SymbolicIndices) {
  Module m("t");
  build(m, {tf({5, 2}), t(DType::i32, {sym("seq")})}, [](Builder& b, auto& p) {
    Val r = b.gather(p[0], p[1]);
    EXPECT_EQ(r.type().str(), "f32[seq,2]");
    return r;
  });
  HostTensor r = run(m, {counting({5, 2}), ints(DType::i32, {3}, {4, 4, 1})});
  EXPECT_EQ(r.floats(), (Floats{8, 9, 8, 9, 2, 3}));
}

TEST(Gather, OutOfRangeIndexIsARunTimeError) {
  Module m("t");
  build(m, {tf({4, 2}), t(DType::i32, {2})}, [](Builder& b, auto& p) { return b.gather(p[0], p[1]); });
  Expected<HostTensor> bad = try_run(m, {counting({4, 2}), ints(DType::i32, {2}, {0, 4})});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, AllOf(HasSubstr("gather"), HasSubstr("index 4 (element 1 of the indices) is out of "
                                                                        "range [0, 4) for axis 0 of f32[4,2]")));
  bad = try_run(m, {counting({4, 2}), ints(DType::i32, {2}, {-1, 0})});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("index -1 (element 0 of the indices) is out of range [0, 4)"));
}

TEST(Gather, Errors) {
  EXPECT_THAT(build_error({tf({4, 2}), tf({2})}, [](Builder& b, auto& p) { return b.gather(p[0], p[1]); }),
              HasSubstr("indices must be i32 or i64, got f32[2]"));
  EXPECT_THAT(build_error({tf({4, 2}), t(DType::i32, {2})},
                          [](Builder& b, auto& p) { return b.gather(p[0], p[1], 2); }),
              HasSubstr("axis 2 is out of range for the table f32[4,2]"));
  EXPECT_THAT(build_error({tf({}), t(DType::i32, {})}, [](Builder& b, auto& p) { return b.gather(p[0], p[1]); }),
              HasSubstr("axis 0 is out of range for the table f32[]"));
}

// ---- definitions -----------------------------------------------------------

TEST(ShapeOpDefs, AttributesAreDocumentedAndOptionalOnesDefaulted) {
  const OpRegistry& r = OpRegistry::instance();
  for (const char* name : {"reshape", "transpose", "broadcast", "slice", "concat", "dynamic_slice",
                           "dynamic_update_slice", "gather"}) {
    const OpDef& def = r.get(name);
    EXPECT_FALSE(def.summary.empty()) << name;
    for (const AttrSpec& a : def.attrs) EXPECT_FALSE(a.doc.empty()) << name << "." << a.name;
  }
  ASSERT_NE(r.get("slice").find_attr("stride"), nullptr);
  EXPECT_TRUE(r.get("slice").find_attr("stride")->default_value.has_value());
  ASSERT_NE(r.get("gather").find_attr("axis"), nullptr);
  ASSERT_TRUE(r.get("gather").find_attr("axis")->default_value.has_value());
  EXPECT_EQ(r.get("gather").find_attr("axis")->default_value->as_int(), 0);
}

TEST(ShapeOpDefs, GatherAxisDefaultsToZero) {
  // Built without the axis attribute: the default applies.
  HostTensor r = run1({counting({3, 2}), ints(DType::i32, {1}, {2})},
                      [](Builder& b, auto& p) { return b.op1("gather", {p[0], p[1]}); });
  EXPECT_EQ(r.floats(), (Floats{4, 5}));
}

}  // namespace
}  // namespace graphc
