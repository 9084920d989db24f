// canonicalize, cse, dce, fold-constants and specialize-shapes: each as text
// in, expected text out (value numbers ignored), with the cases each refuses;
// then the cleanup passes on a tiny Gemma-3, which must keep prefill and
// decode_step logits bit for bit while removing ops.
#include <gtest/gtest.h>

#include <cmath>

#include "backends/reference/interpreter.h"
#include "graphs/gemma3.h"
#include "graphs/transformer_block.h"
#include "passes/pass_manager.h"
#include "passes/pass_registry.h"
#include "tests/passes/ir_check.h"
#include "tests/tiny_gemma3.h"

namespace graphc {
namespace {

using test_support::ir_matches;
using test_support::parse_ir;
using test_support::run_pipeline_on;

// Runs one pipeline and returns its report (failing the test on an error).
PipelineReport run_ok(Module& m, std::string_view pipeline) {
  Expected<PipelineReport> r = run_pipeline(m, pipeline);
  if (!r.ok()) {
    ADD_FAILURE() << r.error().message;
    return {};
  }
  return *r;
}

// ---- canonicalize ---------------------------------------------------------------

TEST(Canonicalize, ArithmeticIdentitiesDisappearWithTheirConstants) {
  const char* input = R"(module @t

func @f(%x: f32[4,8]) -> (f32[4,8]) {
  %one = constant {dtype = f32, shape = [], value = 1.0} : f32[]
  %zero = constant {dtype = f32, shape = [8], value = 0.0} : f32[8]
  %0 = mul %x, %one : f32[4,8]
  %1 = add %zero, %0 : f32[4,8]
  %2 = sub %1, %zero : f32[4,8]
  %3 = div %2, %one : f32[4,8]
  %4 = mul %one, %3 : f32[4,8]
  return %4
}
)";
  EXPECT_TRUE(ir_matches(run_pipeline_on(input, "canonicalize"), R"(module @t

func @f(%x: f32[4,8]) -> (f32[4,8]) {
  return %x
}
)"));
}

TEST(Canonicalize, IntegerOnesAndListsOfOnesAreOnesToo) {
  const char* input = R"(module @t

func @f(%x: i32[3]) -> (i32[3]) {
  %ones = constant {dtype = i32, shape = [3], value = [1, 1, 1]} : i32[3]
  %0 = mul %x, %ones : i32[3]
  return %0
}
)";
  EXPECT_TRUE(ir_matches(run_pipeline_on(input, "canonicalize"), R"(module @t

func @f(%x: i32[3]) -> (i32[3]) {
  return %x
}
)"));
}

// x * 1 where the constant would broadcast x to a larger shape changes the
// type, and a constant that is not all ones is not a one: both stay.
TEST(Canonicalize, RefusesRewritesThatChangeTheTypeOrTheValue) {
  const char* input = R"(module @t

func @f(%s: f32[], %x: f32[2]) -> (f32[2], f32[2], f32[2], f32[2]) {
  %ones = constant {dtype = f32, shape = [2], value = 1.0} : f32[2]
  %0 = mul %s, %ones : f32[2]
  %c = constant {dtype = f32, shape = [2], value = [1.0, 2.0]} : f32[2]
  %1 = mul %x, %c : f32[2]
  %2 = sub %ones, %x : f32[2]
  %3 = transpose %x {perm = [0]} : f32[2]
  return %0, %1, %2, %3
}
)";
  std::unique_ptr<Module> m = parse_ir(input);
  ASSERT_TRUE(m);
  PipelineReport r = run_ok(*m, "canonicalize");
  ASSERT_EQ(r.passes.size(), 1u);
  EXPECT_TRUE(r.passes[0].changed);  // the identity transpose goes
  EXPECT_EQ(r.passes[0].stats.counters.at("identity transpose"), 1);
  EXPECT_EQ(r.passes[0].stats.counters.count("x*1"), 0u);
  EXPECT_TRUE(ir_matches(print_module(*m), R"(module @t

func @f(%s: f32[], %x: f32[2]) -> (f32[2], f32[2], f32[2], f32[2]) {
  %ones = constant {dtype = f32, shape = [2], value = 1.0} : f32[2]
  %0 = mul %s, %ones : f32[2]
  %c = constant {dtype = f32, shape = [2], value = [1.0, 2.0]} : f32[2]
  %1 = mul %x, %c : f32[2]
  %2 = sub %ones, %x : f32[2]
  return %0, %1, %2, %x
}
)"));
}

TEST(Canonicalize, TransposePairsCancelOrMerge) {
  const char* input = R"(module @t

func @f(%x: f32[2,3,4]) -> (f32[2,3,4], f32[4,2,3], f32[2,3,4]) {
  %0 = transpose %x {perm = [1, 0, 2]} : f32[3,2,4]
  %1 = transpose %0 {perm = [1, 0, 2]} : f32[2,3,4]
  %2 = transpose %x {perm = [1, 2, 0]} : f32[3,4,2]
  %3 = transpose %2 {perm = [1, 2, 0]} : f32[4,2,3]
  %4 = transpose %x {perm = [0, 1, 2]} : f32[2,3,4]
  return %1, %3, %4
}
)";
  EXPECT_TRUE(ir_matches(run_pipeline_on(input, "canonicalize"), R"(module @t

func @f(%x: f32[2,3,4]) -> (f32[2,3,4], f32[4,2,3], f32[2,3,4]) {
  %0 = transpose %x {perm = [2, 0, 1]} : f32[4,2,3]
  return %x, %0, %x
}
)"));
}

TEST(Canonicalize, ReshapeChainsCastsAndBroadcastsThatChangeNothing) {
  const char* input = R"(module @t

func @f(%x: f32[seq,8]) -> (f32[seq,8], f32[seq,2,4], f32[seq,8], f32[seq,8], f32[3,seq,8]) {
  %0 = reshape %x {shape = [seq, 2, 4]} : f32[seq,2,4]
  %1 = reshape %0 {shape = [seq, 8]} : f32[seq,8]
  %2 = reshape %x {shape = [seq, 4, 2]} : f32[seq,4,2]
  %3 = reshape %2 {shape = [seq, 2, 4]} : f32[seq,2,4]
  %4 = cast %x {to = f32} : f32[seq,8]
  %5 = broadcast %x {shape = [seq, 8]} : f32[seq,8]
  %6 = broadcast %x {shape = [3, seq, 8]} : f32[3,seq,8]
  return %1, %3, %4, %5, %6
}
)";
  EXPECT_TRUE(ir_matches(run_pipeline_on(input, "canonicalize"), R"(module @t

func @f(%x: f32[seq,8]) -> (f32[seq,8], f32[seq,2,4], f32[seq,8], f32[seq,8], f32[3,seq,8]) {
  %0 = reshape %x {shape = [seq, 2, 4]} : f32[seq,2,4]
  %1 = broadcast %x {shape = [3, seq, 8]} : f32[3,seq,8]
  return %x, %0, %x, %x, %1
}
)"));
}

TEST(Canonicalize, RewritesInsideRegionsAndReportsNoChangeWhenThereIsNone) {
  const char* input = R"(module @t

func @f(%n: i64[], %x: f32[4]) -> (f32[4]) {
  %0 = loop %n, %x : f32[4] {
  ^(%i: i64[], %c: f32[4]):
    %z = constant {dtype = f32, shape = [], value = 0.0} : f32[]
    %1 = add %c, %z : f32[4]
    %2 = tanh %1 : f32[4]
    yield %2
  }
  return %0
}
)";
  std::unique_ptr<Module> m = parse_ir(input);
  ASSERT_TRUE(m);
  EXPECT_TRUE(run_ok(*m, "canonicalize").passes.at(0).changed);
  EXPECT_TRUE(ir_matches(print_module(*m), R"(module @t

func @f(%n: i64[], %x: f32[4]) -> (f32[4]) {
  %0 = loop %n, %x : f32[4] {
  ^(%i: i64[], %c: f32[4]):
    %1 = tanh %c : f32[4]
    yield %1
  }
  return %0
}
)"));
  EXPECT_FALSE(run_ok(*m, "canonicalize").passes.at(0).changed);
}

// ---- cse ------------------------------------------------------------------------------

TEST(Cse, MergesIdenticalOpsButNotSwappedOperandsOrOtherAttributes) {
  const char* input = R"(module @t

func @f(%x: f32[4,2], %y: f32[4,2]) -> (f32[4,2], f32[2], f32[4]) {
  %0 = mul %x, %y : f32[4,2]
  %1 = mul %x, %y : f32[4,2]
  %2 = mul %y, %x : f32[4,2]
  %3 = add %0, %1 : f32[4,2]
  %4 = add %3, %2 : f32[4,2]
  %5 = reduce %4 {axes = [0], kind = "sum"} : f32[2]
  %6 = reduce %4 {axes = [0], kind = "sum"} : f32[2]
  %7 = reduce %4 {axes = [1], kind = "sum"} : f32[4]
  %8 = add %5, %6 : f32[2]
  return %4, %8, %7
}
)";
  EXPECT_TRUE(ir_matches(run_pipeline_on(input, "cse"), R"(module @t

func @f(%x: f32[4,2], %y: f32[4,2]) -> (f32[4,2], f32[2], f32[4]) {
  %0 = mul %x, %y : f32[4,2]
  %1 = mul %y, %x : f32[4,2]
  %2 = add %0, %0 : f32[4,2]
  %3 = add %2, %1 : f32[4,2]
  %4 = reduce %3 {axes = [0], kind = "sum"} : f32[2]
  %5 = reduce %3 {axes = [1], kind = "sum"} : f32[4]
  %6 = add %4, %4 : f32[2]
  return %3, %6, %5
}
)"));
}

TEST(Cse, MergesConstantsAndGlobalReadsButNeverSideEffects) {
  const char* input = R"(module @t

weight @w : f32[2]
state @s : f32[2]

func @id(%a: f32[2]) -> (f32[2]) {
  return %a
}

func @f(%x: f32[2]) -> (f32[2], f32[2], f32[2]) {
  %c0 = constant {dtype = f32, shape = [2], value = 0.5} : f32[2]
  %c1 = constant {dtype = f32, shape = [2], value = 0.5} : f32[2]
  %w0 = weight {name = @w} : f32[2]
  %w1 = weight {name = @w} : f32[2]
  %s0 = state_get {name = @s} : f32[2]
  %s1 = state_get {name = @s} : f32[2]
  %0 = call %x {callee = @id} : f32[2]
  %1 = call %x {callee = @id} : f32[2]
  state_set %0 {name = @s}
  state_set %0 {name = @s}
  %2 = add %c0, %c1 : f32[2]
  %3 = add %w0, %w1 : f32[2]
  %4 = add %s0, %s1 : f32[2]
  %5 = add %1, %2 : f32[2]
  %6 = add %5, %3 : f32[2]
  return %6, %4, %0
}
)";
  EXPECT_TRUE(ir_matches(run_pipeline_on(input, "cse"), R"(module @t

weight @w : f32[2]
state @s : f32[2]

func @id(%a: f32[2]) -> (f32[2]) {
  return %a
}

func @f(%x: f32[2]) -> (f32[2], f32[2], f32[2]) {
  %c0 = constant {dtype = f32, shape = [2], value = 0.5} : f32[2]
  %w0 = weight {name = @w} : f32[2]
  %s0 = state_get {name = @s} : f32[2]
  %0 = call %x {callee = @id} : f32[2]
  %1 = call %x {callee = @id} : f32[2]
  state_set %0 {name = @s}
  state_set %0 {name = @s}
  %2 = add %c0, %c0 : f32[2]
  %3 = add %w0, %w0 : f32[2]
  %4 = add %s0, %s0 : f32[2]
  %5 = add %1, %2 : f32[2]
  %6 = add %5, %3 : f32[2]
  return %6, %4, %0
}
)"));
}

// An op in a region may reuse an equivalent op of an enclosing block (it
// dominates), but an op outside may not reuse one inside a region, and
// sibling regions do not share.
TEST(Cse, RespectsRegionScoping) {
  const char* input = R"(module @t

func @f(%n: i64[], %b: bool[], %x: f32[4]) -> (f32[4], f32[4], f32[4]) {
  %0 = exp %x : f32[4]
  %1 = loop %n, %x : f32[4] {
  ^(%i: i64[], %c: f32[4]):
    %2 = exp %x : f32[4]
    %3 = sin %x : f32[4]
    %4 = add %2, %3 : f32[4]
    %5 = add %4, %c : f32[4]
    yield %5
  }
  %6 = sin %x : f32[4]
  %7 = if %b : f32[4] {
  ^():
    %8 = cos %x : f32[4]
    yield %8
  } {
  ^():
    %9 = cos %x : f32[4]
    yield %9
  }
  %10 = add %0, %6 : f32[4]
  return %1, %7, %10
}
)";
  EXPECT_TRUE(ir_matches(run_pipeline_on(input, "cse"), R"(module @t

func @f(%n: i64[], %b: bool[], %x: f32[4]) -> (f32[4], f32[4], f32[4]) {
  %0 = exp %x : f32[4]
  %1 = loop %n, %x : f32[4] {
  ^(%i: i64[], %c: f32[4]):
    %3 = sin %x : f32[4]
    %4 = add %0, %3 : f32[4]
    %5 = add %4, %c : f32[4]
    yield %5
  }
  %6 = sin %x : f32[4]
  %7 = if %b : f32[4] {
  ^():
    %8 = cos %x : f32[4]
    yield %8
  } {
  ^():
    %9 = cos %x : f32[4]
    yield %9
  }
  %10 = add %0, %6 : f32[4]
  return %1, %7, %10
}
)"));
}

// A region that reads nothing from outside (as a fused_elementwise body must
// not) is not made to: its ops merge only among themselves.
TEST(Cse, KeepsClosedRegionsClosed) {
  const char* input = R"(module @t

func @f(%n: i64[], %x: f32[]) -> (f32[], f32[], f32[]) {
  %k = constant {dtype = f32, shape = [], value = 2.0} : f32[]
  %0 = loop %n, %x : f32[] {
  ^(%i: i64[], %c: f32[]):
    %k1 = constant {dtype = f32, shape = [], value = 2.0} : f32[]
    %1 = mul %c, %k1 : f32[]
    yield %1
  }
  %2 = loop %n, %x : f32[] {
  ^(%j: i64[], %d: f32[]):
    %k2 = constant {dtype = f32, shape = [], value = 2.0} : f32[]
    %3 = mul %d, %k2 : f32[]
    %4 = add %3, %x : f32[]
    yield %4
  }
  return %0, %2, %k
}
)";
  EXPECT_TRUE(ir_matches(run_pipeline_on(input, "cse"), R"(module @t

func @f(%n: i64[], %x: f32[]) -> (f32[], f32[], f32[]) {
  %k = constant {dtype = f32, shape = [], value = 2.0} : f32[]
  %0 = loop %n, %x : f32[] {
  ^(%i: i64[], %c: f32[]):
    %k1 = constant {dtype = f32, shape = [], value = 2.0} : f32[]
    %1 = mul %c, %k1 : f32[]
    yield %1
  }
  %2 = loop %n, %x : f32[] {
  ^(%j: i64[], %d: f32[]):
    %3 = mul %d, %k : f32[]
    %4 = add %3, %x : f32[]
    yield %4
  }
  return %0, %2, %k
}
)"));
}

TEST(Cse, MergesOpsWithIdenticalRegions) {
  const char* input = R"(module @t

func @f(%n: i64[], %x: f32[4]) -> (f32[4], f32[4], f32[4]) {
  %0 = loop %n, %x : f32[4] {
  ^(%i: i64[], %c: f32[4]):
    %1 = tanh %c : f32[4]
    yield %1
  }
  %2 = loop %n, %x : f32[4] {
  ^(%j: i64[], %d: f32[4]):
    %3 = tanh %d : f32[4]
    yield %3
  }
  %4 = loop %n, %x : f32[4] {
  ^(%k: i64[], %e: f32[4]):
    %5 = sin %e : f32[4]
    yield %5
  }
  return %0, %2, %4
}
)";
  EXPECT_TRUE(ir_matches(run_pipeline_on(input, "cse"), R"(module @t

func @f(%n: i64[], %x: f32[4]) -> (f32[4], f32[4], f32[4]) {
  %0 = loop %n, %x : f32[4] {
  ^(%i: i64[], %c: f32[4]):
    %1 = tanh %c : f32[4]
    yield %1
  }
  %4 = loop %n, %x : f32[4] {
  ^(%k: i64[], %e: f32[4]):
    %5 = sin %e : f32[4]
    yield %5
  }
  return %0, %0, %4
}
)"));
}

// ---- dce ------------------------------------------------------------------------------

TEST(Dce, RemovesDeadChainsAndDeadOpsInRegionsButKeepsSideEffects) {
  const char* input = R"(module @t

state @s : f32[4]

func @id(%a: f32[4]) -> (f32[4]) {
  return %a
}

func @f(%n: i64[], %x: f32[4]) -> (f32[4]) {
  %0 = exp %x : f32[4]
  %1 = tanh %0 : f32[4]
  %r = state_get {name = @s} : f32[4]
  state_set %x {name = @s}
  %2 = call %x {callee = @id} : f32[4]
  %3 = loop %n, %x : f32[4] {
  ^(%i: i64[], %c: f32[4]):
    %4 = sin %c : f32[4]
    %5 = cos %4 : f32[4]
    yield %c
  }
  %6 = loop %n, %x : f32[4] {
  ^(%j: i64[], %d: f32[4]):
    %7 = call %d {callee = @id} : f32[4]
    yield %7
  }
  %8 = loop %n, %x : f32[4] {
  ^(%k: i64[], %e: f32[4]):
    %9 = sin %e : f32[4]
    yield %9
  }
  return %3
}
)";
  EXPECT_TRUE(ir_matches(run_pipeline_on(input, "dce"), R"(module @t

state @s : f32[4]

func @id(%a: f32[4]) -> (f32[4]) {
  return %a
}

func @f(%n: i64[], %x: f32[4]) -> (f32[4]) {
  state_set %x {name = @s}
  %2 = call %x {callee = @id} : f32[4]
  %3 = loop %n, %x : f32[4] {
  ^(%i: i64[], %c: f32[4]):
    yield %c
  }
  %6 = loop %n, %x : f32[4] {
  ^(%j: i64[], %d: f32[4]):
    %7 = call %d {callee = @id} : f32[4]
    yield %7
  }
  return %3
}
)"));
}

TEST(Dce, CountsWhatItRemoved) {
  std::unique_ptr<Module> m = parse_ir(R"(module @t

func @f(%x: f32[4]) -> (f32[4]) {
  %0 = exp %x : f32[4]
  %1 = tanh %0 : f32[4]
  return %x
}
)");
  ASSERT_TRUE(m);
  PipelineReport r = run_ok(*m, "dce,dce");
  ASSERT_EQ(r.passes.size(), 2u);
  EXPECT_TRUE(r.passes[0].changed);
  EXPECT_EQ(r.passes[0].ops_before, 3);
  EXPECT_EQ(r.passes[0].ops_after, 1);
  EXPECT_EQ(r.passes[0].stats.counters.at("ops removed"), 2);
  EXPECT_FALSE(r.passes[1].changed);
}

// ---- fold-constants -------------------------------------------------------------

TEST(FoldConstants, EvaluatesChainsOfConstantOpsIncludingStaticIotas) {
  const char* input = R"(module @t

func @f(%x: f32[4]) -> (f32[4], f32[2,2]) {
  %0 = iota {axis = 0, shape = [4]} : i32[4]
  %1 = cast %0 {to = f32} : f32[4]
  %two = constant {dtype = f32, shape = [], value = 2.0} : f32[]
  %2 = mul %1, %two : f32[4]
  %3 = add %x, %2 : f32[4]
  %4 = constant {dtype = f32, shape = [2,2], value = 1.5} : f32[2,2]
  %5 = neg %4 : f32[2,2]
  %6 = abs %5 : f32[2,2]
  return %3, %6
}
)";
  std::unique_ptr<Module> m = parse_ir(input);
  ASSERT_TRUE(m);
  PipelineReport r = run_ok(*m, "fold-constants");
  ASSERT_EQ(r.passes.size(), 1u);
  EXPECT_EQ(r.passes[0].stats.counters.at("ops folded"), 4);
  // f32[4] (cast), f32[4] (mul), f32[2,2] (neg), f32[2,2] (abs): 4 x 16 bytes.
  EXPECT_EQ(r.passes[0].stats.counters.at("bytes of constants folded"), 64);
  EXPECT_TRUE(ir_matches(print_module(*m), R"(module @t

func @f(%x: f32[4]) -> (f32[4], f32[2,2]) {
  %2 = constant {dtype = f32, shape = [4], value = [0.0, 2.0, 4.0, 6.0]} : f32[4]
  %3 = add %x, %2 : f32[4]
  %6 = constant {dtype = f32, shape = [2,2], value = 1.5} : f32[2,2]
  return %3, %6
}
)"));
}

TEST(FoldConstants, RefusesLargeResultsSymbolicShapesAndNonConstants) {
  const char* input = R"(module @t

func @f(%x: f32[seq]) -> (f32[8], f32[seq], f32[seq]) {
  %c = constant {dtype = f32, shape = [], value = 3.0} : f32[]
  %0 = broadcast %c {shape = [8]} : f32[8]
  %1 = broadcast %c {shape = [seq]} : f32[seq]
  %2 = mul %x, %c : f32[seq]
  return %0, %1, %2
}
)";
  EXPECT_EQ(run_pipeline_on(input, "fold-constants{max-elements=4}"), print_module(*parse_ir(input)));
  std::unique_ptr<Module> m = parse_ir(input);
  ASSERT_TRUE(m);
  PipelineReport r = run_ok(*m, "fold-constants{max-elements=4}");
  EXPECT_FALSE(r.passes.at(0).changed);
  EXPECT_EQ(r.passes[0].stats.counters.at("refused: over max-elements"), 1);
  EXPECT_EQ(r.passes[0].stats.counters.at("refused: symbolic shape"), 1);
  // With the default limit the splat broadcast folds to a splat constant.
  EXPECT_TRUE(ir_matches(run_pipeline_on(input, "fold-constants"), R"(module @t

func @f(%x: f32[seq]) -> (f32[8], f32[seq], f32[seq]) {
  %c = constant {dtype = f32, shape = [], value = 3.0} : f32[]
  %0 = constant {dtype = f32, shape = [8], value = 3.0} : f32[8]
  %1 = broadcast %c {shape = [seq]} : f32[seq]
  %2 = mul %x, %c : f32[seq]
  return %0, %1, %2
}
)"));
}

TEST(FoldConstants, LeavesOpsWhoseEvaluationFailsForRunTime) {
  const char* input = R"(module @t

func @f() -> (f32[1]) {
  %t = constant {dtype = f32, shape = [2], value = [1.0, 2.0]} : f32[2]
  %i = constant {dtype = i32, shape = [1], value = [5]} : i32[1]
  %0 = gather %t, %i : f32[1]
  return %0
}
)";
  std::unique_ptr<Module> m = parse_ir(input);
  ASSERT_TRUE(m);
  PipelineReport r = run_ok(*m, "fold-constants");
  EXPECT_FALSE(r.passes.at(0).changed);
  EXPECT_EQ(r.passes[0].stats.counters.at("refused: evaluation failed"), 1);
  ASSERT_EQ(r.passes[0].stats.remarks.size(), 1u);
  EXPECT_NE(r.passes[0].stats.remarks[0].find("gather"), std::string::npos);
}

TEST(FoldConstants, RejectsUnknownOptions) {
  std::unique_ptr<Module> m = parse_ir("module @t\n\nfunc @f() -> () {\n  return\n}\n");
  ASSERT_TRUE(m);
  Expected<PipelineReport> r = run_pipeline(*m, "fold-constants{max-elemnts=4}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "pass 'fold-constants': unknown option 'max-elemnts' (known: max-elements)");
}

// ---- specialize-shapes ------------------------------------------------------------

TEST(SpecializeShapes, BindsSymbolsInTypesAndAttributes) {
  const char* input = R"(module @t

func @f(%x: f32[seq,batch]) -> (f32[seq,batch], i32[seq]) {
  %0 = iota {axis = 0, shape = [seq, batch]} : i32[seq,batch]
  %1 = cast %0 {to = f32} : f32[seq,batch]
  %2 = add %x, %1 : f32[seq,batch]
  %3 = iota {axis = 1, shape = [seq, 4]} : i32[seq,4]
  %4 = slice %3 {limit = [seq, 1], start = [0, 0]} : i32[seq,1]
  %5 = reshape %4 {shape = [seq]} : i32[seq]
  return %2, %5
}
)";
  std::unique_ptr<Module> m = parse_ir(input);
  ASSERT_TRUE(m);
  PipelineReport r = run_ok(*m, "specialize-shapes{seq=3,unused=7}");
  EXPECT_TRUE(r.passes.at(0).changed);
  EXPECT_EQ(r.passes[0].stats.counters.at("attributes rewritten"), 4);
  EXPECT_EQ(r.passes[0].stats.counters.at("unused bindings"), 1);
  EXPECT_TRUE(ir_matches(print_module(*m), R"(module @t

func @f(%x: f32[3,batch]) -> (f32[3,batch], i32[3]) {
  %0 = iota {axis = 0, shape = [3, batch]} : i32[3,batch]
  %1 = cast %0 {to = f32} : f32[3,batch]
  %2 = add %x, %1 : f32[3,batch]
  %3 = iota {axis = 1, shape = [3, 4]} : i32[3,4]
  %4 = slice %3 {limit = [3, 1], start = [0, 0]} : i32[3,1]
  %5 = reshape %4 {shape = [3]} : i32[3]
  return %2, %5
}
)"));
}

TEST(SpecializeShapes, FailsWithTheVerifiersMessageWhenTheBindingDoesNotFit) {
  const char* input = R"(module @t

func @f(%x: f32[seq], %i: i32[]) -> (f32[4]) {
  %0 = dynamic_slice %x, %i {sizes = [4]} : f32[4]
  return %0
}
)";
  EXPECT_EQ(run_pipeline_on(input, "specialize-shapes{seq=8}").rfind("ERROR", 0), std::string::npos);
  const std::string out = run_pipeline_on(input, "specialize-shapes{seq=2}");
  EXPECT_EQ(out.rfind("ERROR: pass 'specialize-shapes{seq=2}' (1/1", 0), 0u) << out;
  EXPECT_NE(out.find("dynamic_slice"), std::string::npos) << out;
}

TEST(SpecializeShapes, RejectsValuesThatAreNotSizes) {
  std::unique_ptr<Module> m = parse_ir("module @t\n\nfunc @f() -> () {\n  return\n}\n");
  ASSERT_TRUE(m);
  Expected<PipelineReport> r = run_pipeline(*m, "specialize-shapes{seq=abc}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "pass 'specialize-shapes': option 'seq' must be an integer, got 'abc'");
  r = run_pipeline(*m, "specialize-shapes{seq=-1}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("non-negative"), std::string::npos);
}

// ---- the cleanup passes on a tiny Gemma-3 --------------------------------------

Gemma3Config tiny_config() { return test_support::tiny_gemma3_config(); }

// prefill on a prompt, then decode_step for each further token: every logit.
std::vector<float> logits_of(const Module& m) {
  ReferenceInterpreter interp(m);
  for (auto& [name, t] : demo_weights(m, 7)) interp.set_weight(name, std::move(t));
  std::vector<int64_t> ids;
  for (int i = 0; i < 9; ++i) ids.push_back((i * 7 + 3) % 48);
  std::vector<float> out;
  const size_t prompt = 5;
  auto pre = interp.run("prefill", {HostTensor::from_ints(DType::i32, {int64_t(prompt)},
                                                          std::vector<int64_t>(ids.begin(), ids.begin() + prompt))});
  if (!pre.ok()) {
    ADD_FAILURE() << pre.error().message;
    return out;
  }
  out = (*pre)[0].floats();
  for (size_t p = prompt; p < ids.size(); ++p) {
    auto step = interp.run("decode_step", {HostTensor::scalar(DType::i32, double(ids[p])),
                                           HostTensor::scalar(DType::i32, double(p))});
    if (!step.ok()) {
      ADD_FAILURE() << step.error().message;
      return out;
    }
    out.insert(out.end(), (*step)[0].floats().begin(), (*step)[0].floats().end());
  }
  return out;
}

class CleanupOnGemma3 : public ::testing::TestWithParam<const char*> {};

TEST_P(CleanupOnGemma3, KeepsEveryLogitBitForBit) {
  std::unique_ptr<Module> base = build_gemma3(tiny_config());
  std::unique_ptr<Module> m = build_gemma3(tiny_config());
  PipelineReport r = run_ok(*m, GetParam());
  ASSERT_FALSE(r.passes.empty());
  const std::vector<float> want = logits_of(*base), got = logits_of(*m);
  ASSERT_EQ(want.size(), got.size());
  ASSERT_EQ(want.size(), (5 + 4) * 48u);
  for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(want[i], got[i]) << "logit " << i;
}

INSTANTIATE_TEST_SUITE_P(Passes, CleanupOnGemma3,
                         ::testing::Values("canonicalize", "cse", "dce", "fold-constants",
                                           "canonicalize,fold-constants,cse,dce"));

TEST(CleanupOnGemma3Ops, RemovesOps) {
  std::unique_ptr<Module> m = build_gemma3(tiny_config());
  const int64_t before = count_ops(*m);
  PipelineReport r = run_ok(*m, "canonicalize,fold-constants,cse,dce");
  ASSERT_EQ(r.passes.size(), 4u);
  EXPECT_EQ(r.passes.front().ops_before, before);
  EXPECT_EQ(r.passes.back().ops_after, count_ops(*m));
  EXPECT_LT(count_ops(*m), before) << r.table(false);
  EXPECT_TRUE(r.passes[2].changed) << r.table(false);  // cse: Gemma-3 reads shared weights and masks more than once
  // A second run finds nothing left to do.
  PipelineReport again = run_ok(*m, "canonicalize,fold-constants,cse,dce");
  for (const PassRecord& p : again.passes) EXPECT_FALSE(p.changed) << p.pass << "\n" << again.table(false);
}

}  // namespace
}  // namespace graphc
