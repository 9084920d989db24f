// Elementwise ops, fused_elementwise, and the runtime's own ops (constant,
// reshape, state, loop, if, call) on the CPU backend against the reference
// interpreter.
//
// Tolerances: the reference computes each elementwise op in double and rounds
// to float once; the JIT computes in float. For + - * / and sqrt both are
// correctly rounded, so results are equal; libm's expf/logf/tanhf/sinf/cosf/
// powf are within a few ulp, hence rel 1e-6 (about 8 ulp) on those.
#include <gtest/gtest.h>

#include "tests/codegen/jit_check.h"

namespace graphc {
namespace {

using test_support::jit_matches_reference;
using test_support::JitCheck;
using test_support::random_tensor;

std::string unary_module(const std::string& op, const std::string& type) {
  return "module @t\nfunc @f(%x: " + type + ") -> (" + type + ") {\n  %y = " + op + " %x : " + type +
         "\n  return %y\n}\n";
}

TEST(JitElementwise, UnaryFloatOpsMatchReference) {
  for (const char* op : {"neg", "abs", "exp", "tanh", "sin", "cos"}) {
    for (std::vector<int64_t> shape : {std::vector<int64_t>{}, {1}, {17}, {3, 33}, {2, 1, 65}}) {
      HostTensor x = random_tensor(DType::f32, shape, 7, -3, 3);
      JitCheck c{unary_module(op, x.type().str()), "f", {x}};
      c.rel_tol = 1e-6;
      EXPECT_TRUE(jit_matches_reference(c)) << op << " " << x.type().str();
    }
  }
  for (const char* op : {"log", "sqrt", "rsqrt"}) {
    HostTensor x = random_tensor(DType::f32, {5, 19}, 3, 0.01, 4);
    JitCheck c{unary_module(op, x.type().str()), "f", {x}};
    c.rel_tol = 1e-6;
    EXPECT_TRUE(jit_matches_reference(c)) << op;
  }
}

TEST(JitElementwise, BinaryOpsBroadcastLikeTheReference) {
  struct Case {
    std::vector<int64_t> a, b, out;
  };
  for (const char* op : {"add", "sub", "mul", "div", "max", "min"}) {
    for (const Case& k : {Case{{4, 7}, {4, 7}, {4, 7}}, Case{{4, 7}, {7}, {4, 7}}, Case{{4, 1}, {1, 7}, {4, 7}},
                          Case{{}, {3, 5}, {3, 5}}, Case{{2, 3, 1, 5}, {3, 4, 1}, {2, 3, 4, 5}}}) {
      HostTensor a = random_tensor(DType::f32, k.a, 1, -2, 2);
      HostTensor b = random_tensor(DType::f32, k.b, 2, 0.5, 2);
      HostTensor y(DType::f32, k.out);
      const std::string text = "module @t\nfunc @f(%a: " + a.type().str() + ", %b: " + b.type().str() + ") -> (" +
                               y.type().str() + ") {\n  %y = " + op + " %a, %b : " + y.type().str() +
                               "\n  return %y\n}\n";
      EXPECT_TRUE(jit_matches_reference({text, "f", {a, b}})) << op << " " << a.type().str() << " "
                                                              << b.type().str();
    }
  }
}

TEST(JitElementwise, IntegerOpsWrapAndDivideLikeTheReference) {
  for (const char* op : {"add", "sub", "mul", "div", "max", "min"}) {
    for (DType t : {DType::i32, DType::i64}) {
      HostTensor a = HostTensor::from_ints(t, {6}, {2147483647, -2147483647 - 1, 7, -7, 100, 5});
      HostTensor b = HostTensor::from_ints(t, {6}, {1, -1, 2, 2, -3, 5});
      const std::string ty = a.type().str();
      const std::string text = "module @t\nfunc @f(%a: " + ty + ", %b: " + ty + ") -> (" + ty + ") {\n  %y = " + op +
                               " %a, %b : " + ty + "\n  return %y\n}\n";
      EXPECT_TRUE(jit_matches_reference({text, "f", {a, b}})) << op << " " << ty;
    }
  }
}

TEST(JitElementwise, CompareSelectAndCast) {
  const std::string text = R"(module @t
func @f(%a: f32[3,9], %b: f32[9]) -> (f32[3,9], i32[3,9], bool[3,9], bf16[3,9]) {
  %c = compare %a, %b {predicate = "lt"} : bool[3,9]
  %s = select %c, %a, %b : f32[3,9]
  %k = constant {dtype = f32, shape = [], value = 7.5} : f32[]
  %m = mul %a, %k : f32[3,9]
  %i = cast %m {to = i32} : i32[3,9]
  %n = compare %i, %i {predicate = "ne"} : bool[3,9]
  %h = cast %m {to = bf16} : bf16[3,9]
  return %s, %i, %n, %h
}
)";
  HostTensor a = random_tensor(DType::f32, {3, 9}, 11);
  HostTensor b = random_tensor(DType::f32, {9}, 12);
  EXPECT_TRUE(jit_matches_reference({text, "f", {a, b}}));
}

TEST(JitElementwise, FusedElementwiseRegion) {
  const std::string text = R"(module @t
func @f(%a: f32[5,130], %b: f32[130]) -> (f32[5,130]) {
  %y = fused_elementwise %a, %b {shape = [5, 130]} : f32[5,130] {
  ^(%x: f32[], %w: f32[]):
    %m = mul %x, %w : f32[]
    %h = constant {dtype = f32, shape = [], value = 0.5} : f32[]
    %s = add %m, %h : f32[]
    %t = tanh %s : f32[]
    yield %t
  }
  return %y
}
)";
  JitCheck c{text, "f", {random_tensor(DType::f32, {5, 130}, 1), random_tensor(DType::f32, {130}, 2)}};
  c.rel_tol = 1e-6;
  EXPECT_TRUE(jit_matches_reference(c));
}

TEST(JitRuntime, StateReshapeLoopAndCall) {
  const std::string text = R"(module @t
state @calls : i64[]
func @twice(%x: f32[2,3]) -> (f32[2,3]) {
  %y = add %x, %x : f32[2,3]
  return %y
}
func @f(%x: f32[6], %n: i64[]) -> (f32[2,3], f32[], i64[], i64[]) {
  %r = reshape %x {shape = [2, 3]} : f32[2,3]
  %d = call %r {callee = @twice} : f32[2,3]
  %0 = constant {dtype = f32, shape = [], value = 0.0} : f32[]
  %1 = constant {dtype = i64, shape = [], value = 0} : i64[]
  %2, %3 = loop %n, %0, %1 {has_exit = true} : f32[], i64[] {
  ^(%i: i64[], %4: f32[], %5: i64[]):
    %6 = cast %i {to = f32} : f32[]
    %7 = add %4, %6 : f32[]
    %8 = constant {dtype = f32, shape = [], value = 20.0} : f32[]
    %9 = compare %7, %8 {predicate = "gt"} : bool[]
    %10 = constant {dtype = i64, shape = [], value = 1} : i64[]
    %11 = add %5, %10 : i64[]
    yield %9, %7, %11
  }
  %c = state_get {name = @calls} : i64[]
  %one = constant {dtype = i64, shape = [], value = 1} : i64[]
  %c2 = add %c, %one : i64[]
  state_set %c2 {name = @calls}
  return %d, %2, %3, %c
}
)";
  HostTensor x = random_tensor(DType::f32, {6}, 5);
  HostTensor n = HostTensor::from_ints(DType::i64, {}, {100});
  EXPECT_TRUE(jit_matches_reference({text, "f", {x, n}}));
}

TEST(JitRuntime, EmitStreamsToTheHostAndTheAnswerEndsTheLoop) {
  const std::string text = R"(module @t
func @f(%n: i64[]) -> (i64[]) {
  %zero = constant {dtype = i64, shape = [], value = 0} : i64[]
  %r = loop %n, %zero {has_exit = true} : i64[] {
  ^(%i: i64[], %acc: i64[]):
    %stop = emit %i {channel = "counter"} : bool[]
    %next = add %acc, %i : i64[]
    yield %stop, %next
  }
  return %r
}
)";
  auto m = parse_module(text);
  ASSERT_TRUE(m.ok()) << m.error().message;
  CpuBackend b(**m);
  std::vector<int64_t> seen;
  b.set_emit_handler([&](const std::string& channel, const HostTensor& v) {
    EXPECT_EQ(channel, "counter");
    seen.push_back(v.get_int(0));
    return v.get_int(0) == 3;
  });
  auto r = b.run("f", {HostTensor::scalar(DType::i64, 100)});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ((*r)[0].get_int(0), 6);
}

TEST(JitRuntime, ResultsDoNotDependOnTheThreadCount) {
  const std::string text = unary_module("exp", "f32[64,300]");
  HostTensor x = random_tensor(DType::f32, {64, 300}, 9);
  auto module = parse_module(text);
  ASSERT_TRUE(module.ok());
  std::vector<HostTensor> outs;
  for (int threads : {1, 2}) {
    CpuBackend b(**module, {.threads = threads});
    auto r = b.run("f", {x});
    ASSERT_TRUE(r.ok()) << r.error().message;
    outs.push_back((*r)[0]);
  }
  EXPECT_EQ(outs[0].floats(), outs[1].floats());
}

}  // namespace
}  // namespace graphc
