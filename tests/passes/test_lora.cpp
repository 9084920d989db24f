// LoRA: add-lora and fold-lora as text in, text out on a small module; on a
// tiny Gemma-3, an initialised adapter (B = 0) leaves the logits unchanged,
// a trained one changes them, and folding it gives the unfolded logits within
// float tolerance with the base model's op counts.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "backends/reference/interpreter.h"
#include "graphs/gemma3.h"
#include "graphs/transformer_block.h"
#include "ir/parser.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "passes/pass_manager.h"
#include "tests/passes/ir_check.h"
#include "tests/tiny_gemma3.h"

namespace graphc {
namespace {

using test_support::ir_matches;
using test_support::parse_ir;
using test_support::run_pipeline_on;

PipelineReport run_ok(Module& m, std::string_view pipeline) {
  Expected<PipelineReport> r = run_pipeline(m, pipeline);
  if (!r.ok()) {
    ADD_FAILURE() << r.error().message;
    return {};
  }
  return *r;
}

const char* kProjection = R"(module @t

weight @p.q_proj : f32[4,8]
weight @emb : f32[4,8]

func @f(%x: f32[2,8]) -> (f32[2,4], f32[4,8]) {
  %w = weight {name = @p.q_proj} : f32[4,8]
  %0 = matmul %x, %w {transpose_a = false, transpose_b = true} : f32[2,4]
  %e = weight {name = @emb} : f32[4,8]
  return %0, %e
}
)";

// ---- text in, text out ------------------------------------------------------------

TEST(AddLora, AddsStateFactorsTheScaledBranchAndAnInitFunction) {
  EXPECT_TRUE(ir_matches(run_pipeline_on(kProjection, "add-lora{targets=p.*_proj,rank=2,alpha=4,init=kaiming,seed=3}"),
                         R"(module @t

weight @p.q_proj : f32[4,8]
weight @emb : f32[4,8]
state @p.q_proj.lora_a : f32[2,8]
state @p.q_proj.lora_b : f32[4,2]

func @f(%x: f32[2,8]) -> (f32[2,4], f32[4,8]) {
  %w = weight {name = @p.q_proj} : f32[4,8]
  %0 = matmul %x, %w {transpose_a = false, transpose_b = true} : f32[2,4]
  %1 = state_get {name = @p.q_proj.lora_a} : f32[2,8]
  %2 = state_get {name = @p.q_proj.lora_b} : f32[4,2]
  %3 = matmul %x, %1 {transpose_b = true} : f32[2,2]
  %4 = matmul %3, %2 {transpose_b = true} : f32[2,4]
  %5 = constant {dtype = f32, shape = [], value = 2.0} : f32[]
  %6 = mul %5, %4 : f32[2,4]
  %7 = add %0, %6 : f32[2,4]
  %e = weight {name = @emb} : f32[4,8]
  return %7, %e
}

func @lora_init(%seed: i64[]) -> () {
  %0 = constant {dtype = i64, shape = [], value = 3} : i64[]
  %1 = add %seed, %0 : i64[]
  %2, %3 = random_uniform %1 {dtype = f32, shape = [2, 8]} : f32[2,8], i64[]
  %4 = constant {dtype = f32, shape = [], value = 0.35355339059327373} : f32[]
  %5 = constant {dtype = f32, shape = [], value = 0.7071067811865475} : f32[]
  %6 = mul %2, %5 : f32[2,8]
  %7 = sub %6, %4 : f32[2,8]
  state_set %7 {name = @p.q_proj.lora_a}
  %8 = constant {dtype = f32, shape = [4, 2], value = 0.0} : f32[4,2]
  state_set %8 {name = @p.q_proj.lora_b}
  return
}
)"));
}

TEST(AddLora, RemarksATargetWeightUsedOtherwiseAndRefusesGaussian) {
  std::unique_ptr<Module> m = parse_ir(kProjection);
  ASSERT_TRUE(m);
  PipelineReport r = run_ok(*m, "add-lora{targets=p.q_proj|emb,rank=2}");
  ASSERT_EQ(r.passes.size(), 1u);
  EXPECT_EQ(r.passes[0].stats.counters["adapters added"], 1);
  ASSERT_EQ(r.passes[0].stats.remarks.size(), 1u);
  EXPECT_NE(r.passes[0].stats.remarks[0].find("weight @emb in @f is used by return"), std::string::npos)
      << r.passes[0].stats.remarks[0];
  std::unique_ptr<Module> g = parse_ir(kProjection);
  Expected<PipelineReport> bad = run_pipeline(*g, "add-lora{init=gaussian}");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("gaussian is not supported"), std::string::npos) << bad.error().message;
}

TEST(FoldLora, FoldsIntoADerivedWeightAndDceRemovesTheBranch) {
  const std::string adapted = run_pipeline_on(kProjection, "add-lora{targets=p.*_proj,rank=2,alpha=4,seed=3}");
  EXPECT_TRUE(ir_matches(run_pipeline_on(adapted, "fold-lora,dce"), R"(module @t

weight @p.q_proj : f32[4,8]
weight @emb : f32[4,8]
state @p.q_proj.lora_a : f32[2,8]
state @p.q_proj.lora_b : f32[4,2]
weight @p.q_proj.folded : f32[4,8] = @fold.p.q_proj

func @f(%x: f32[2,8]) -> (f32[2,4], f32[4,8]) {
  %0 = weight {name = @p.q_proj.folded} : f32[4,8]
  %1 = matmul %x, %0 {transpose_b = true} : f32[2,4]
  %e = weight {name = @emb} : f32[4,8]
  return %1, %e
}

func @lora_init(%seed: i64[]) -> () {
  %0 = constant {dtype = i64, shape = [], value = 3} : i64[]
  %1 = add %seed, %0 : i64[]
  %2, %3 = random_uniform %1 {dtype = f32, shape = [2, 8]} : f32[2,8], i64[]
  %4 = constant {dtype = f32, shape = [], value = 0.35355339059327373} : f32[]
  %5 = constant {dtype = f32, shape = [], value = 0.7071067811865475} : f32[]
  %6 = mul %2, %5 : f32[2,8]
  %7 = sub %6, %4 : f32[2,8]
  state_set %7 {name = @p.q_proj.lora_a}
  %8 = constant {dtype = f32, shape = [4, 2], value = 0.0} : f32[4,2]
  state_set %8 {name = @p.q_proj.lora_b}
  return
}

func @fold.p.q_proj() -> (f32[4,8]) {
  %0 = weight {name = @p.q_proj} : f32[4,8]
  %1 = state_get {name = @p.q_proj.lora_a} : f32[2,8]
  %2 = state_get {name = @p.q_proj.lora_b} : f32[4,2]
  %3 = matmul %2, %1 : f32[4,8]
  %4 = constant {dtype = f32, shape = [], value = 2.0} : f32[]
  %5 = mul %4, %3 : f32[4,8]
  %6 = add %0, %5 : f32[4,8]
  return %6
}
)"));
  // Not selected: nothing changes.
  std::unique_ptr<Module> m = parse_ir(adapted);
  ASSERT_TRUE(m);
  PipelineReport r = run_ok(*m, "fold-lora{adapters=other.*}");
  EXPECT_FALSE(r.passes.at(0).changed);
}

// ---- derived weights on the reference interpreter -------------------------------

TEST(DerivedWeight, IsComputedOnceOnFirstReadAndMayNotDependOnItself) {
  std::unique_ptr<Module> m = parse_ir(R"(module @t

weight @w : f32[2]
state @s : f32[2]
weight @w.plus : f32[2] = @plus

func @plus() -> (f32[2]) {
  %w = weight {name = @w} : f32[2]
  %s = state_get {name = @s} : f32[2]
  %0 = add %w, %s : f32[2]
  return %0
}

func @f() -> (f32[2]) {
  %0 = weight {name = @w.plus} : f32[2]
  return %0
}
)");
  ASSERT_TRUE(m);
  ReferenceInterpreter interp(*m);
  interp.set_weight("w", HostTensor::from_floats(DType::f32, {2}, {1, 2}));
  interp.set_state("s", HostTensor::from_floats(DType::f32, {2}, {10, 20}));
  auto first = interp.run("f", {});
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ((*first)[0].floats(), (std::vector<float>{11, 22}));
  // Frozen: a later change of the state does not reach the computed weight.
  interp.set_state("s", HostTensor::from_floats(DType::f32, {2}, {0, 0}));
  auto second = interp.run("f", {});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ((*second)[0].floats(), (std::vector<float>{11, 22}));

  std::unique_ptr<Module> cyclic = parse_ir(R"(module @t

weight @w : f32[2] = @self

func @self() -> (f32[2]) {
  %0 = weight {name = @w} : f32[2]
  return %0
}
)");
  ASSERT_TRUE(cyclic);
  ReferenceInterpreter again(*cyclic);
  auto r = again.run("self", {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("derived weight @w depends on itself"), std::string::npos) << r.error().message;
}

// Trained-looking adapters: every A and B filled with small deterministic values.
void set_trained_adapters(const Module& m, ReferenceInterpreter& interp) {
  int k = 0;
  for (const Global& g : m.globals()) {
    const bool a = g.name.ends_with(".lora_a"), b = g.name.ends_with(".lora_b");
    if (!a && !b) continue;
    std::vector<int64_t> shape;
    for (const Dim& d : g.type.shape) shape.push_back(d.value);
    HostTensor t(DType::f32, shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.set(i, 0.05 * std::sin(0.37 * double(i) + 1.3 * ++k));
    interp.set_state(g.name, std::move(t));
  }
}

// Two named adapters on one weight, blended: W + 0.25 s_x B_x A_x + 0.75 s_y B_y A_y.
TEST(FoldLora, BlendsNamedAdaptersOfOneWeight) {
  const std::string two = run_pipeline_on(
      kProjection, "add-lora{targets=p.q_proj,rank=2,alpha=4,name=x},add-lora{targets=p.q_proj,rank=1,alpha=3,name=y}");
  EXPECT_TRUE(ir_matches(run_pipeline_on(two, "fold-lora{blend=x:0.25|y:0.75},dce"), R"(module @t

weight @p.q_proj : f32[4,8]
weight @emb : f32[4,8]
state @p.q_proj.lora_a.x : f32[2,8]
state @p.q_proj.lora_b.x : f32[4,2]
state @p.q_proj.lora_a.y : f32[1,8]
state @p.q_proj.lora_b.y : f32[4,1]
weight @p.q_proj.folded : f32[4,8] = @fold.p.q_proj

func @f(%x: f32[2,8]) -> (f32[2,4], f32[4,8]) {
  %0 = weight {name = @p.q_proj.folded} : f32[4,8]
  %1 = matmul %x, %0 {transpose_b = true} : f32[2,4]
  %e = weight {name = @emb} : f32[4,8]
  return %1, %e
}

func @lora_init(%seed: i64[]) -> () {
  %0 = constant {dtype = i64, shape = [], value = 0} : i64[]
  %1 = add %seed, %0 : i64[]
  %2, %3 = random_uniform %1 {dtype = f32, shape = [2, 8]} : f32[2,8], i64[]
  %4 = constant {dtype = f32, shape = [], value = 0.35355339059327373} : f32[]
  %5 = constant {dtype = f32, shape = [], value = 0.7071067811865475} : f32[]
  %6 = mul %2, %5 : f32[2,8]
  %7 = sub %6, %4 : f32[2,8]
  state_set %7 {name = @p.q_proj.lora_a.x}
  %8 = constant {dtype = f32, shape = [4, 2], value = 0.0} : f32[4,2]
  state_set %8 {name = @p.q_proj.lora_b.x}
  %9 = constant {dtype = i64, shape = [], value = 1} : i64[]
  %10 = add %seed, %9 : i64[]
  %11, %12 = random_uniform %10 {dtype = f32, shape = [1, 8]} : f32[1,8], i64[]
  %13 = constant {dtype = f32, shape = [], value = 0.35355339059327373} : f32[]
  %14 = constant {dtype = f32, shape = [], value = 0.7071067811865475} : f32[]
  %15 = mul %11, %14 : f32[1,8]
  %16 = sub %15, %13 : f32[1,8]
  state_set %16 {name = @p.q_proj.lora_a.y}
  %17 = constant {dtype = f32, shape = [4, 1], value = 0.0} : f32[4,1]
  state_set %17 {name = @p.q_proj.lora_b.y}
  return
}

func @fold.p.q_proj() -> (f32[4,8]) {
  %0 = weight {name = @p.q_proj} : f32[4,8]
  %1 = state_get {name = @p.q_proj.lora_a.x} : f32[2,8]
  %2 = state_get {name = @p.q_proj.lora_b.x} : f32[4,2]
  %3 = matmul %2, %1 : f32[4,8]
  %4 = constant {dtype = f32, shape = [], value = 0.5} : f32[]
  %5 = mul %4, %3 : f32[4,8]
  %6 = add %0, %5 : f32[4,8]
  %7 = state_get {name = @p.q_proj.lora_a.y} : f32[1,8]
  %8 = state_get {name = @p.q_proj.lora_b.y} : f32[4,1]
  %9 = matmul %8, %7 : f32[4,8]
  %10 = constant {dtype = f32, shape = [], value = 2.25} : f32[]
  %11 = mul %10, %9 : f32[4,8]
  %12 = add %6, %11 : f32[4,8]
  return %12
}
)"));

  // An adapter without a blend weight is not folded, and says so.
  std::unique_ptr<Module> m = parse_ir(two);
  ASSERT_TRUE(m);
  PipelineReport r = run_ok(*m, "fold-lora{blend=x:1}");
  EXPECT_FALSE(r.passes.at(0).changed);
  ASSERT_EQ(r.passes.at(0).stats.remarks.size(), 1u);
  EXPECT_NE(r.passes[0].stats.remarks[0].find("adapter 'y' has no blend weight"), std::string::npos)
      << r.passes[0].stats.remarks[0];

  // Blend weights of 1 fold to the unfolded sum, within float rounding.
  std::unique_ptr<Module> unfolded = parse_ir(two);
  std::unique_ptr<Module> folded = parse_ir(two);
  ASSERT_TRUE(unfolded && folded);
  run_ok(*folded, "fold-lora{blend=x:1|y:1},dce");
  auto run_f = [](const Module& mod) {
    ReferenceInterpreter interp(mod);
    std::vector<float> w(32), x(16);
    for (size_t i = 0; i < w.size(); ++i) w[i] = float(std::cos(0.3 * double(i)));
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(std::sin(0.7 * double(i)));
    interp.set_weight("p.q_proj", HostTensor::from_floats(DType::f32, {4, 8}, w));
    interp.set_weight("emb", HostTensor(DType::f32, {4, 8}));
    set_trained_adapters(mod, interp);
    auto out = interp.run("f", {HostTensor::from_floats(DType::f32, {2, 8}, x)});
    if (!out.ok()) throw GraphcError(out.error().message);
    return (*out)[0].floats();
  };
  const std::vector<float> want = run_f(*unfolded), got = run_f(*folded);
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5f * (1 + std::abs(want[i]))) << i;
}

// ---- the tiny Gemma-3 ---------------------------------------------------------------

const char* kAllProjections = "add-lora{targets=layer.*.q_proj|layer.*.k_proj|layer.*.v_proj|layer.*.o_proj|"
                              "layer.*.gate_proj|layer.*.up_proj|layer.*.down_proj,rank=4,alpha=8,seed=1}";

int64_t op_count(const Module& m, const std::string& fn) {
  int64_t n = 0;
  walk(m.function(fn)->body(), [&](Op*) { ++n; });
  return n;
}

// Prefill of a prompt then a few decode steps; every logit, concatenated.
// `prepare` binds state (adapters) before the first call.
std::vector<float> run_tiny(const Module& m, const Module& base,
                            const std::function<void(ReferenceInterpreter&)>& prepare) {
  ReferenceInterpreter interp(m);
  for (auto& [name, t] : demo_weights(base, 7)) interp.set_weight(name, std::move(t));
  prepare(interp);
  std::vector<int64_t> ids;
  for (int i = 0; i < 9; ++i) ids.push_back((i * 5 + 2) % 48);
  const size_t prompt = 5;
  std::vector<float> all;
  auto append = [&](const HostTensor& t) { all.insert(all.end(), t.floats().begin(), t.floats().end()); };
  const std::vector<int64_t> prompt_ids(ids.begin(), ids.begin() + prompt);
  auto pre = interp.run("prefill", {test_support::token_tensor(prompt_ids)});
  if (!pre.ok()) throw GraphcError(pre.error().message);
  append((*pre)[0]);
  for (size_t p = prompt; p < ids.size(); ++p) {
    auto out = interp.run("decode_step", {HostTensor::scalar(DType::i32, double(ids[p])),
                                          HostTensor::scalar(DType::i32, double(p))});
    if (!out.ok()) throw GraphcError(out.error().message);
    append((*out)[0]);
  }
  return all;
}

TEST(TinyGemmaLora, InitialisedAdaptersKeepTheLogitsTrainedOnesChangeThemFoldingKeepsThem) {
  const Gemma3Config config = test_support::tiny_gemma3_config();
  std::unique_ptr<Module> base = build_gemma3(config);
  std::unique_ptr<Module> adapted = build_gemma3(config);
  PipelineReport r = run_ok(*adapted, kAllProjections);
  ASSERT_EQ(r.passes.size(), 1u);
  EXPECT_EQ(r.passes[0].stats.counters["adapters added"], 7 * config.layers);
  EXPECT_TRUE(r.passes[0].stats.remarks.empty());
  ASSERT_TRUE(verify_module(*adapted).ok());

  const std::vector<float> want = run_tiny(*base, *base, [](ReferenceInterpreter&) {});
  // B = 0 after @lora_init: x W^T + s (x A^T) 0 is x W^T exactly.
  const std::vector<float> initialised = run_tiny(*adapted, *base, [](ReferenceInterpreter& in) {
    auto ok = in.run("lora_init", {HostTensor::scalar(DType::i64, 42)});
    if (!ok.ok()) throw GraphcError(ok.error().message);
    EXPECT_NE(in.state("layer.0.q_proj.lora_a").floats()[0], 0.0f);
  });
  ASSERT_EQ(initialised.size(), want.size());
  EXPECT_EQ(initialised, want);

  auto trained = [&](ReferenceInterpreter& in) { set_trained_adapters(*adapted, in); };
  const std::vector<float> unfolded = run_tiny(*adapted, *base, trained);
  float changed = 0;
  for (size_t i = 0; i < want.size(); ++i) changed = std::max(changed, std::abs(unfolded[i] - want[i]));
  EXPECT_GT(changed, 1e-3f);

  std::unique_ptr<Module> folded = parse_ir(print_module(*adapted));
  ASSERT_TRUE(folded);
  PipelineReport f = run_ok(*folded, "fold-lora,dce");
  // Every projection site of prefill, prefill_row and decode_step.
  EXPECT_EQ(f.passes.at(0).stats.counters["adapters folded"], 7 * config.layers * 3);
  // The base model after the same cleanup (dce also drops the base's own dead ops).
  std::unique_ptr<Module> clean_base = build_gemma3(config);
  run_ok(*clean_base, "dce");
  for (const char* fn : {"prefill", "prefill_row", "decode_step"})
    EXPECT_EQ(op_count(*folded, fn), op_count(*clean_base, fn)) << fn;
  const std::vector<float> got = run_tiny(*folded, *base, trained);
  // Folding reassociates: x (W + s B A)^T instead of x W^T + s (x A^T) B^T,
  // so float32 sums run in a different order and differ by a few ulps of the
  // partial sums (sums of at most 24 products here). Through two layers,
  // softmax and the unembedding that stays below 1e-5 of the largest logit
  // (about 3e-7 measured).
  float scale = 0, worst = 0;
  for (size_t i = 0; i < unfolded.size(); ++i) {
    scale = std::max(scale, std::abs(unfolded[i]));
    worst = std::max(worst, std::abs(got[i] - unfolded[i]));
  }
  EXPECT_LE(worst, 1e-5f * scale) << "largest logit " << scale;
}

}  // namespace
}  // namespace graphc
