// End-to-end programs on the reference interpreter: an MLP, loops with and
// without early exit, if, call, and state that survives across calls.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backends/reference/interpreter.h"
#include "ir/builder.h"
#include "ir/parser.h"
#include "ir/verifier.h"

namespace graphc {
namespace {

using ::testing::HasSubstr;

HostTensor floats(std::vector<int64_t> shape, std::vector<float> v) {
  return HostTensor::from_floats(DType::f32, std::move(shape), std::move(v));
}

std::vector<HostTensor> run_ok(ReferenceInterpreter& interp, const std::string& fn, std::vector<HostTensor> args) {
  Expected<std::vector<HostTensor>> out = interp.run(fn, args);
  if (!out.ok()) ADD_FAILURE() << out.error().message;
  return out.ok() ? *out : std::vector<HostTensor>{};
}

TEST(Interpreter, TwoLayerMlpMatchesHandComputedValues) {
  Module m("mlp");
  m.add_global(GlobalKind::Weight, "w1", f32({2, 3}));
  m.add_global(GlobalKind::Weight, "b1", f32({3}));
  m.add_global(GlobalKind::Weight, "w2", f32({3, 1}));
  Builder b = Builder::function(m, "forward");
  Val x = b.param(f32({sym("batch"), 2}), "x");
  Val h = b.max(b.matmul(x, b.weight("w1")) + b.weight("b1"), b.scalar(0.0));  // relu
  b.ret({b.matmul(h, b.weight("w2"))});
  ASSERT_TRUE(verify_module(m).ok()) << verify_module(m).error().message;

  ReferenceInterpreter interp(m);
  interp.set_weight("w1", floats({2, 3}, {1, -1, 0.5, 2, 1, -1}));
  interp.set_weight("b1", floats({3}, {0, 0.5, -1}));
  interp.set_weight("w2", floats({3, 1}, {1, 2, 3}));
  // Row [1, 2]: x*w1 = [5, 1, -1.5]; +b1 = [5, 1.5, -2.5]; relu = [5, 1.5, 0];
  // *w2 = 5 + 3 + 0 = 8. Row [-1, 0]: [-1, 1, -0.5] + b1 = [-1, 1.5, -1.5];
  // relu = [0, 1.5, 0]; *w2 = 3.
  auto out = run_ok(interp, "forward", {floats({2, 2}, {1, 2, -1, 0})});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape(), (std::vector<int64_t>{2, 1}));
  EXPECT_FLOAT_EQ(out[0].get(0), 8.0f);
  EXPECT_FLOAT_EQ(out[0].get(1), 3.0f);
}

// sum = 0 + 1 + ... over the iterations; with has_exit the loop stops after
// the first iteration whose sum exceeds `limit`.
std::unique_ptr<Module> running_sum_module(bool has_exit, double limit) {
  auto m = std::make_unique<Module>("loops");
  Builder b = Builder::function(*m, "running_sum");
  Val n = b.param(i64(), "n");
  Val zero = b.scalar(0.0);
  Val count = b.scalar(0, DType::i64);
  std::vector<Val> r = b.loop(
      n, {zero, count},
      [&](Builder& body, Val i, const std::vector<Val>& c) {
        Val sum = c[0] + body.cast(i, DType::f32);
        Val iterations = c[1] + body.scalar(1, DType::i64);
        if (!has_exit) return std::vector<Val>{sum, iterations};
        return std::vector<Val>{body.compare(sum, "gt", body.scalar(limit)), sum, iterations};
      },
      has_exit);
  b.ret(r);
  return m;
}

TEST(Interpreter, LoopRunsTripCountIterations) {
  auto m = running_sum_module(false, 0);
  ASSERT_TRUE(verify_module(*m).ok()) << verify_module(*m).error().message;
  ReferenceInterpreter interp(*m);
  auto out = run_ok(interp, "running_sum", {HostTensor::scalar(DType::i64, 10)});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].get(0), 45.0);  // 0 + 1 + ... + 9
  EXPECT_EQ(out[1].get_int(0), 10);
}

TEST(Interpreter, LoopExitsEarlyAfterTheIterationThatSetsTheCondition) {
  auto m = running_sum_module(true, 20.0);
  ASSERT_TRUE(verify_module(*m).ok()) << verify_module(*m).error().message;
  ReferenceInterpreter interp(*m);
  // Sums: 0, 1, 3, 6, 10, 15, 21 (i = 6, the 7th iteration) > 20: stop there.
  auto out = run_ok(interp, "running_sum", {HostTensor::scalar(DType::i64, 100)});
  EXPECT_EQ(out[0].get(0), 21.0);
  EXPECT_EQ(out[1].get_int(0), 7);
  // A trip count that ends first wins; zero iterations return the initial values.
  out = run_ok(interp, "running_sum", {HostTensor::scalar(DType::i64, 3)});
  EXPECT_EQ(out[0].get(0), 3.0);
  out = run_ok(interp, "running_sum", {HostTensor::scalar(DType::i64, 0)});
  EXPECT_EQ(out[0].get(0), 0.0);
  EXPECT_EQ(out[1].get_int(0), 0);
}

// A loop that emits its counter and stops when the host answers true.
const char* kEmitUntilTheHostSaysStop = R"(module @t
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

TEST(Interpreter, EmitHandsValuesToTheHostAndReturnsItsAnswer) {
  auto m = parse_module(kEmitUntilTheHostSaysStop);
  ASSERT_TRUE(m.ok()) << m.error().message;
  ReferenceInterpreter interp(**m);
  std::vector<int64_t> seen;
  interp.set_emit_handler([&](const std::string& channel, const HostTensor& v) {
    EXPECT_EQ(channel, "counter");
    seen.push_back(v.get_int(0));
    return v.get_int(0) == 3;
  });
  auto r = interp.run("f", {HostTensor::scalar(DType::i64, 100)});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ((*r)[0].get_int(0), 0 + 1 + 2 + 3);
  // Nobody listening: the answer is false and the loop runs to its count.
  ReferenceInterpreter quiet(**m);
  auto all = quiet.run("f", {HostTensor::scalar(DType::i64, 10)});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ((*all)[0].get_int(0), 45);
}

TEST(Interpreter, IfRunsOneBranchAndCapturesOuterValues) {
  Module m("branches");
  Builder b = Builder::function(m, "pick");
  Val c = b.param(boolean(), "c");
  Val x = b.param(f32({3}), "x");
  std::vector<Val> r = b.if_(
      c, [&](Builder& t) { return std::vector<Val>{t.exp(x)}; },
      [&](Builder& e) { return std::vector<Val>{e.neg(x)}; });
  b.ret(r);
  ASSERT_TRUE(verify_module(m).ok()) << verify_module(m).error().message;
  ReferenceInterpreter interp(m);
  HostTensor xs = floats({3}, {0, 1, 2});
  auto yes = run_ok(interp, "pick", {HostTensor::scalar(DType::boolean, 1), xs});
  auto no = run_ok(interp, "pick", {HostTensor::scalar(DType::boolean, 0), xs});
  EXPECT_FLOAT_EQ(yes[0].get(2), std::exp(2.0f));
  EXPECT_FLOAT_EQ(no[0].get(2), -2.0f);
}

TEST(Interpreter, CallBindsSymbolicDimsOfTheCallee) {
  Module m("calls");
  {
    Builder b = Builder::function(m, "double_it");
    Val x = b.param(f32({sym("n")}), "x");
    b.ret({x + x});
  }
  Builder b = Builder::function(m, "main");
  Val y = b.param(f32({sym("len")}), "y");
  std::vector<Val> r = b.call("double_it", {y});
  EXPECT_EQ(r[0].type(), f32({sym("len")}));
  b.ret(r);
  ASSERT_TRUE(verify_module(m).ok()) << verify_module(m).error().message;
  ReferenceInterpreter interp(m);
  auto out = run_ok(interp, "main", {floats({4}, {1, 2, 3, 4})});
  EXPECT_EQ(out[0].get(3), 8.0);
}

// state_set takes effect when the call returns: within a call every
// state_get sees the value at entry.
TEST(Interpreter, StatePersistsAcrossCallsAndUpdatesOnReturn) {
  Module m("counter");
  m.add_global(GlobalKind::State, "count", i64());
  Builder b = Builder::function(m, "tick");
  Val before = b.state_get("count");
  b.state_set("count", before + b.scalar(1, DType::i64));
  Val again = b.state_get("count");
  b.ret({before, again});
  ASSERT_TRUE(verify_module(m).ok()) << verify_module(m).error().message;
  ReferenceInterpreter interp(m);
  for (int call = 0; call < 3; ++call) {
    auto out = run_ok(interp, "tick", {});
    EXPECT_EQ(out[0].get_int(0), call);
    EXPECT_EQ(out[1].get_int(0), call);
  }
  EXPECT_EQ(interp.state("count").get_int(0), 3);
}

TEST(Interpreter, ReportsBadArgumentsUnboundWeightsAndRunawayRecursion) {
  Module m("errors");
  m.add_global(GlobalKind::Weight, "w", f32({2}));
  {
    Builder b = Builder::function(m, "uses_weight");
    Val x = b.param(f32({2}), "x");
    b.ret({x * b.weight("w")});
  }
  {
    Builder b = Builder::function(m, "forever");
    Val x = b.param(f32({2}), "x");
    b.ret(b.call("forever", {x}));
  }
  ASSERT_TRUE(verify_module(m).ok()) << verify_module(m).error().message;
  ReferenceInterpreter interp(m);
  auto bad = interp.run("uses_weight", {floats({3}, {1, 2, 3})});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("argument 0 of @uses_weight must be f32[2], got f32[3]"));
  auto unbound = interp.run("uses_weight", {floats({2}, {1, 2})});
  ASSERT_FALSE(unbound.ok());
  EXPECT_THAT(unbound.error().message, HasSubstr("weight @w is not bound"));
  EXPECT_THAT(unbound.error().message, HasSubstr("in @uses_weight, weight"));
  auto deep = interp.run("forever", {floats({2}, {1, 2})});
  ASSERT_FALSE(deep.ok());
  EXPECT_THAT(deep.error().message, HasSubstr("call depth exceeds"));
  auto missing = interp.run("nope", {});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("unknown function @nope"));
}

TEST(Interpreter, WeightLoaderIsCalledOnceAndItsTypeIsChecked) {
  Module m("loader");
  m.add_global(GlobalKind::Weight, "w", f32({2}));
  Builder b = Builder::function(m, "f");
  b.ret({b.weight("w") + b.weight("w")});
  ReferenceInterpreter interp(m);
  int loads = 0;
  interp.set_weight_loader([&](const Global& g) -> Expected<HostTensor> {
    ++loads;
    return floats({2}, {1, 2});
  });
  auto out = run_ok(interp, "f", {});
  run_ok(interp, "f", {});
  EXPECT_EQ(loads, 1);
  EXPECT_EQ(out[0].get(1), 4.0);

  ReferenceInterpreter wrong(m);
  wrong.set_weight_loader([](const Global&) -> Expected<HostTensor> { return floats({3}, {1, 2, 3}); });
  auto r = wrong.run("f", {});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("weight @w is f32[3], the module declares f32[2]"));
}

}  // namespace
}  // namespace graphc
