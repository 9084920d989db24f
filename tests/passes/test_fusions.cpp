// The fusion passes: each one's before/after in the text form, the reasons
// it gives when it does not fire, bit-identical results against the unfused
// program on the reference interpreter (a tiny Gemma-3, prefill and
// decode_step), and one fused op per site on gemma3-270m's decode_step.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>

#include "backends/reference/interpreter.h"
#include "graphs/gemma3.h"
#include "graphs/layers.h"
#include "graphs/transformer_block.h"
#include "ir/builder.h"
#include "ir/parser.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "passes/pass_manager.h"
#include "passes/pass_registry.h"
#include "tests/tiny_gemma3.h"

namespace graphc {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Runs the named passes in order, verifying after each; returns their stats.
PassStats run_passes(Module& m, const std::vector<std::string>& names) {
  PassStats stats;
  for (const std::string& name : names) {
    if (name == "dce" && !is_registered_pass(name)) continue;
    Expected<std::unique_ptr<Pass>> pass = create_pass(name);
    if (!pass.ok()) throw GraphcError(pass.error().message);
    Expected<bool> changed = (*pass)->run(m, stats);
    if (!changed.ok()) throw GraphcError(name + ": " + changed.error().message);
    Status s = verify_module(m);
    if (!s.ok()) throw GraphcError("after " + name + ": " + s.error().message + "\n" + print_module(m));
  }
  return stats;
}

const std::vector<std::string> kAllFusions = {"fuse-rmsnorm", "fuse-rope", "fuse-attention", "fuse-geglu",
                                              "fuse-elementwise", "dce"};

std::map<std::string, int> op_counts(const Module& m, const std::string& function) {
  std::map<std::string, int> n;
  walk(m.function(function)->body(), [&](Op* op) { ++n[op->name()]; });
  return n;
}

std::unique_ptr<Module> parse_ok(const std::string& text) {
  Expected<std::unique_ptr<Module>> m = parse_module(text, "test.graph");
  if (!m.ok()) throw GraphcError(m.error().message);
  Status s = verify_module(**m);
  if (!s.ok()) throw GraphcError(s.error().message);
  return std::move(*m);
}

// Text in, one pass, text out.
std::string after(const std::string& pass, const std::string& text, PassStats* stats = nullptr) {
  std::unique_ptr<Module> m = parse_ok(text);
  PassStats s = run_passes(*m, {pass});
  if (stats) *stats = s;
  return print_module(*m);
}

bool any_remark(const PassStats& s, const std::string& needle) {
  for (const std::string& r : s.remarks)
    if (r.find(needle) != std::string::npos) return true;
  return false;
}

std::string remarks(const PassStats& s) {
  std::string out;
  for (const std::string& r : s.remarks) out += r + "\n";
  return out;
}

// ---- fuse-rmsnorm ------------------------------------------------------------

// graphs/layers.cpp rms_norm, as the builder writes it.
std::unique_ptr<Module> rms_norm_module(double eps = 1e-6) {
  auto m = std::make_unique<Module>("norm");
  m->add_global(GlobalKind::Weight, "w", f32({8}));
  Builder b = Builder::function(*m, "f");
  Val x = b.param(f32({sym("seq"), 8}), "x");
  b.ret({rms_norm(b, x, b.weight("w"), eps)});
  return m;
}

const char* const kRmsNormText = R"(module @norm

weight @w : f32[8]

func @f(%x: f32[seq,8]) -> (f32[seq,8]) {
  %0 = weight {name = @w} : f32[8]
  %1 = mul %x, %x : f32[seq,8]
  %2 = reduce %1 {axes = [-1], keepdims = true, kind = "mean"} : f32[seq,1]
  %3 = constant {dtype = f32, shape = [], value = 1e-06} : f32[]
  %4 = add %2, %3 : f32[seq,1]
  %5 = rsqrt %4 : f32[seq,1]
  %6 = mul %x, %5 : f32[seq,8]
  %7 = constant {dtype = f32, shape = [], value = 1.0} : f32[]
  %8 = add %7, %0 : f32[8]
  %9 = mul %6, %8 : f32[seq,8]
  return %9
}
)";

TEST(FuseRmsNorm, TheLayersPatternBecomesOneOp) {
  std::unique_ptr<Module> m = rms_norm_module();
  run_passes(*m, {"fuse-rmsnorm"});
  EXPECT_EQ(op_counts(*m, "f"), (std::map<std::string, int>{{"weight", 1}, {"rms_norm", 1}, {"return", 1}}))
      << print_module(*m);
}

TEST(FuseRmsNorm, BecomesOneOpWithEps) {
  PassStats stats;
  EXPECT_EQ(after("fuse-rmsnorm", kRmsNormText, &stats),
            R"(module @norm

weight @w : f32[8]

func @f(%x: f32[seq,8]) -> (f32[seq,8]) {
  %0 = weight {name = @w} : f32[8]
  %1 = rms_norm %x, %0 {eps = 1e-06} : f32[seq,8]
  return %1
}
)");
  EXPECT_EQ(stats.counters["fused"], 1);
  EXPECT_TRUE(stats.remarks.empty()) << remarks(stats);
}

TEST(FuseRmsNorm, OperandOrderOfTheProductsDoesNotMatter) {
  std::string text = kRmsNormText;
  for (auto [from, to] : {std::pair<std::string, std::string>{"mul %x, %5", "mul %5, %x"},
                          {"add %2, %3", "add %3, %2"},
                          {"add %7, %0", "add %0, %7"},
                          {"mul %6, %8", "mul %8, %6"}})
    text.replace(text.find(from), from.size(), to);
  std::unique_ptr<Module> m = parse_ok(text);
  run_passes(*m, {"fuse-rmsnorm"});
  EXPECT_EQ(op_counts(*m, "f")["rms_norm"], 1) << print_module(*m);
}

TEST(FuseRmsNorm, RefusesAMeanOverTheFirstAxisAndSaysWhy) {
  std::string text = kRmsNormText;
  text.replace(text.find("axes = [-1]"), 11, "axes = [0]");
  text.replace(text.find("f32[seq,1]"), 10, "f32[1,8]");
  text.replace(text.find("add %2, %3 : f32[seq,1]"), 23, "add %2, %3 : f32[1,8]");
  text.replace(text.find("rsqrt %4 : f32[seq,1]"), 21, "rsqrt %4 : f32[1,8]");
  PassStats stats;
  std::string out = after("fuse-rmsnorm", text, &stats);
  EXPECT_THAT(out, Not(HasSubstr("rms_norm")));
  EXPECT_EQ(stats.counters["fused"], 0);
  ASSERT_EQ(stats.remarks.size(), 1u);
  EXPECT_EQ(stats.remarks[0], "fuse-rmsnorm: %2 in @f not fused: mean is over axis 0, not the last axis");
}

TEST(FuseRmsNorm, RefusesAPlainGainW) {
  std::string text = kRmsNormText;
  text.replace(text.find("mul %6, %8"), 10, "mul %6, %0");
  PassStats stats;
  std::string out = after("fuse-rmsnorm", text, &stats);
  EXPECT_THAT(out, Not(HasSubstr("rms_norm")));
  EXPECT_TRUE(any_remark(stats, "not fused: the gain is not (1 + w)")) << remarks(stats);
}

TEST(FuseRmsNorm, RefusesWhenAnIntermediateIsUsedElsewhere) {
  std::string text = kRmsNormText;
  text.replace(text.find("-> (f32[seq,8])"), 15, "-> (f32[seq,8], f32[seq,1])");
  text.replace(text.find("return %9"), 9, "return %9, %5");
  PassStats stats;
  std::string out = after("fuse-rmsnorm", text, &stats);
  EXPECT_THAT(out, Not(HasSubstr("rms_norm")));
  EXPECT_TRUE(any_remark(stats, "%2 in @f not fused: %5 (rsqrt) is also used outside the pattern")) << remarks(stats);
}

TEST(FuseRmsNorm, KeepsTheExactEpsAndGivesTheSameBits) {
  std::unique_ptr<Module> unfused = rms_norm_module(3e-5);
  std::unique_ptr<Module> fused = rms_norm_module(3e-5);
  run_passes(*fused, {"fuse-rmsnorm"});
  std::vector<float> xs, ws;
  for (int i = 0; i < 24; ++i) xs.push_back(std::sin(0.7f * i) * (i % 5 == 0 ? 40.f : 1.f));
  for (int i = 0; i < 8; ++i) ws.push_back(0.1f * i - 0.3f);
  HostTensor x = HostTensor::from_floats(DType::f32, {3, 8}, xs);
  std::vector<float> results[2];
  for (int k = 0; k < 2; ++k) {
    ReferenceInterpreter interp(k ? *fused : *unfused);
    interp.set_weight("w", HostTensor::from_floats(DType::f32, {8}, ws));
    auto out = interp.run("f", {x});
    ASSERT_TRUE(out.ok()) << out.error().message;
    results[k] = (*out)[0].floats();
  }
  EXPECT_EQ(results[0], results[1]);
}

// ---- fuse-geglu --------------------------------------------------------------

std::unique_ptr<Module> geglu_module() {
  auto m = std::make_unique<Module>("mlp");
  m->add_global(GlobalKind::Weight, "gate", f32({6, 4}));
  m->add_global(GlobalKind::Weight, "up", f32({6, 4}));
  m->add_global(GlobalKind::Weight, "down", f32({4, 6}));
  Builder b = Builder::function(*m, "f");
  Val h = b.param(f32({sym("seq"), 4}), "h");
  Val w_gate = b.weight("gate"), w_up = b.weight("up"), w_down = b.weight("down");
  Val gate = gelu_tanh(b, b.matmul(h, w_gate, false, true));
  Val up = b.matmul(h, w_up, false, true);
  b.ret({b.matmul(gate * up, w_down, false, true)});
  return m;
}

TEST(FuseGeglu, GateUpAndGeluBecomeOneOpAndTheDownProjectionStays) {
  std::unique_ptr<Module> m = geglu_module();
  const std::string before = print_module(*m);
  EXPECT_THAT(before, HasSubstr("tanh"));
  PassStats stats;
  std::string out = after("fuse-geglu", before, &stats);
  EXPECT_EQ(out, R"(module @mlp

weight @gate : f32[6,4]
weight @up : f32[6,4]
weight @down : f32[4,6]

func @f(%h: f32[seq,4]) -> (f32[seq,4]) {
  %0 = weight {name = @gate} : f32[6,4]
  %1 = weight {name = @up} : f32[6,4]
  %2 = weight {name = @down} : f32[4,6]
  %3 = geglu %h, %0, %1 : f32[seq,6]
  %4 = matmul %3, %2 {transpose_b = true} : f32[seq,4]
  return %4
}
)");
  EXPECT_EQ(stats.counters["fused"], 1);
  EXPECT_TRUE(stats.remarks.empty()) << remarks(stats);
}

TEST(FuseGeglu, GivesTheSameBits) {
  std::unique_ptr<Module> unfused = geglu_module();
  std::unique_ptr<Module> fused = geglu_module();
  run_passes(*fused, {"fuse-geglu"});
  ASSERT_EQ(op_counts(*fused, "f")["geglu"], 1);
  std::vector<float> hs;
  for (int i = 0; i < 20; ++i) hs.push_back(std::cos(1.3f * i) * 3.f);
  std::vector<float> results[2];
  for (int k = 0; k < 2; ++k) {
    const Module& m = k ? *fused : *unfused;
    ReferenceInterpreter interp(m);
    for (auto& [name, t] : demo_weights(m, 3)) interp.set_weight(name, std::move(t));
    auto out = interp.run("f", {HostTensor::from_floats(DType::f32, {5, 4}, hs)});
    ASSERT_TRUE(out.ok()) << out.error().message;
    results[k] = (*out)[0].floats();
  }
  EXPECT_EQ(results[0], results[1]);
}

TEST(FuseGeglu, RefusesAWrongGeluConstantAndSaysWhich) {
  std::string text = print_module(*geglu_module());
  const std::string c = "value = 0.044715}";
  ASSERT_NE(text.find(c), std::string::npos) << text;
  text.replace(text.find(c), c.size(), "value = 0.04}");
  PassStats stats;
  std::string out = after("fuse-geglu", text, &stats);
  EXPECT_THAT(out, Not(HasSubstr("geglu")));
  EXPECT_TRUE(any_remark(stats, "gelu_tanh has the constant 0.04 where 0.044715 is expected")) << remarks(stats);
}

TEST(FuseGeglu, RefusesWhenUpIsAProjectionOfAnotherInput) {
  auto m = std::make_unique<Module>("mlp");
  m->add_global(GlobalKind::Weight, "gate", f32({6, 4}));
  m->add_global(GlobalKind::Weight, "up", f32({6, 4}));
  Builder b = Builder::function(*m, "f");
  Val h = b.param(f32({sym("seq"), 4}), "h");
  Val h2 = b.param(f32({sym("seq"), 4}), "h2");
  Val gate = gelu_tanh(b, b.matmul(h, b.weight("gate"), false, true));
  b.ret({gate * b.matmul(h2, b.weight("up"), false, true)});
  PassStats stats = run_passes(*m, {"fuse-geglu"});
  EXPECT_EQ(op_counts(*m, "f")["geglu"], 0);
  EXPECT_TRUE(any_remark(stats, "does not multiply a matmul h w_up^T of the same h")) << remarks(stats);
}

// ---- fuse-rope ---------------------------------------------------------------

// Runs f of `m` on the same arguments with and without `passes`; the outputs
// must be the same bits.
void expect_same_bits(const std::function<std::unique_ptr<Module>()>& make, const std::vector<std::string>& passes,
                      const std::vector<HostTensor>& args) {
  std::unique_ptr<Module> unfused = make();
  std::unique_ptr<Module> fused = make();
  run_passes(*fused, passes);
  std::vector<HostTensor> results[2];
  for (int k = 0; k < 2; ++k) {
    const Module& m = k ? *fused : *unfused;
    ReferenceInterpreter interp(m);
    for (auto& [name, t] : demo_weights(m, 11)) interp.set_weight(name, std::move(t));
    auto out = interp.run("f", args);
    ASSERT_TRUE(out.ok()) << out.error().message << "\n" << print_module(m);
    results[k] = std::move(*out);
  }
  ASSERT_EQ(results[0].size(), results[1].size());
  for (size_t i = 0; i < results[0].size(); ++i) {
    EXPECT_EQ(results[0][i].type(), results[1][i].type());
    EXPECT_EQ(results[0][i].floats(), results[1][i].floats()) << "result " << i;
    EXPECT_EQ(results[0][i].ints(), results[1][i].ints()) << "result " << i;
  }
}

HostTensor wavy(std::vector<int64_t> shape, float scale = 1.f, float phase = 0.f) {
  std::vector<float> v(product(shape));
  for (size_t i = 0; i < v.size(); ++i) v[i] = scale * std::sin(0.37f * float(i) + phase) + 0.01f * float(i % 7);
  return HostTensor::from_floats(DType::f32, std::move(shape), std::move(v));
}

// x [seq, 2, 8] rotated by the tables of graphs/layers.h for positions 0..seq-1.
std::unique_ptr<Module> rope_module() {
  auto m = std::make_unique<Module>("rope");
  Builder b = Builder::function(*m, "f");
  Val x = b.param(f32({sym("seq"), 2, 8}), "x");
  auto [cos, sin] = rope_tables(b, b.iota({sym("seq")}, 0, DType::i32), 8, 10000.0, 1.0);
  b.ret({apply_rope(b, x, cos, sin)});
  return m;
}

TEST(FuseRope, SlicesProductsAndConcatBecomeOneOp) {
  std::unique_ptr<Module> m = rope_module();
  PassStats stats = run_passes(*m, {"fuse-rope"});
  EXPECT_EQ(stats.counters["fused"], 1);
  EXPECT_TRUE(stats.remarks.empty()) << remarks(stats);
  std::map<std::string, int> n = op_counts(*m, "f");
  EXPECT_EQ(n["rope"], 1);
  for (const char* gone : {"slice", "concat", "sub", "add"}) EXPECT_EQ(n[gone], 0) << gone;
  // The tables stay: cos and sin of positions times frequencies.
  EXPECT_EQ(n["mul"], 1);
  EXPECT_EQ(n["cos"], 1);
  EXPECT_EQ(n["sin"], 1);
  EXPECT_THAT(print_module(*m), HasSubstr("= rope %x, "));
}

TEST(FuseRope, GivesTheSameBits) { expect_same_bits(rope_module, {"fuse-rope"}, {wavy({5, 2, 8}, 3.f)}); }

TEST(FuseRope, RefusesAWrongPairingAndSaysWhy) {
  auto m = std::make_unique<Module>("rope");
  Builder b = Builder::function(*m, "f");
  Val x = b.param(f32({3, 2, 8}), "x");
  Val cos = b.param(f32({3, 1, 4}), "cos");
  Val sin = b.param(f32({3, 1, 4}), "sin");
  Val x1 = b.slice(x, {0, 0, 0}, {3, 2, 4});
  Val x2 = b.slice(x, {0, 0, 4}, {3, 2, 8});
  b.ret({b.concat({x1 * cos - x2 * sin, x1 * cos + x2 * sin}, 2)});  // the second half is wrong
  PassStats stats = run_passes(*m, {"fuse-rope"});
  EXPECT_EQ(op_counts(*m, "f")["rope"], 0);
  EXPECT_TRUE(any_remark(stats, "not fused: the products do not pair x1 and x2")) << remarks(stats);
}

TEST(FuseRope, RefusesWhenAHalfIsUsedElsewhere) {
  auto m = std::make_unique<Module>("rope");
  Builder b = Builder::function(*m, "f");
  Val x = b.param(f32({3, 2, 8}), "x");
  Val cos = b.param(f32({3, 1, 4}), "cos");
  Val sin = b.param(f32({3, 1, 4}), "sin");
  Val x1 = b.slice(x, {0, 0, 0}, {3, 2, 4});
  Val x2 = b.slice(x, {0, 0, 4}, {3, 2, 8});
  b.ret({b.concat({x1 * cos - x2 * sin, x2 * cos + x1 * sin}, 2), x1});
  PassStats stats = run_passes(*m, {"fuse-rope"});
  EXPECT_EQ(op_counts(*m, "f")["rope"], 0);
  EXPECT_TRUE(any_remark(stats, "(slice) is also used outside the pattern")) << remarks(stats);
}

// ---- fuse-attention ----------------------------------------------------------

// graphs/gemma3.cpp attention(): 4 query heads over 2 KV heads, a causal mask.
// With `flatten`, the result is reshaped back to [H, n, hd] as there.
std::unique_ptr<Module> gqa_module(bool flatten = true) {
  auto m = std::make_unique<Module>("attn");
  Builder b = Builder::function(*m, "f");
  const Dim n = sym("seq");
  Val q = b.param(f32({4, n, 8}), "q");
  Val k = b.param(f32({2, n, 8}), "k");
  Val v = b.param(f32({2, n, 8}), "v");
  Val mask = b.compare(b.iota({n, n}, 1), "le", b.iota({n, n}, 0));
  Val qg = b.reshape(q, {2, 2, n, 8});
  Val kg = b.reshape(k, {2, 1, n, 8});
  Val vg = b.reshape(v, {2, 1, n, 8});
  Val scores = b.matmul(qg, kg, false, true) * b.scalar(1.0 / std::sqrt(8.0));
  Val probs = b.softmax(b.select(mask, scores, b.scalar(-1e30)), -1);
  Val mixed = b.matmul(probs, vg);
  b.ret({flatten ? b.reshape(mixed, {4, n, 8}) : mixed});
  return m;
}

TEST(FuseAttention, GroupedQueryAttentionBecomesOneOp) {
  std::unique_ptr<Module> m = gqa_module();
  PassStats stats = run_passes(*m, {"fuse-attention"});
  EXPECT_EQ(stats.counters["fused"], 1);
  EXPECT_TRUE(stats.remarks.empty()) << remarks(stats);
  std::map<std::string, int> n = op_counts(*m, "f");
  EXPECT_EQ(n["attention"], 1);
  for (const char* gone : {"reshape", "matmul", "softmax", "select", "mul", "constant"}) EXPECT_EQ(n[gone], 0) << gone;
  EXPECT_THAT(print_module(*m), HasSubstr("attention %q, %k, %v, %2 {mask_value = -1e+30, scale = 0.35355339059327373}"));
}

TEST(FuseAttention, GivesTheSameBits) {
  const std::vector<HostTensor> args{wavy({4, 5, 8}, 2.f), wavy({2, 5, 8}, 2.f, 1.f), wavy({2, 5, 8}, 1.f, 2.f)};
  expect_same_bits([] { return gqa_module(true); }, {"fuse-attention"}, args);
  // Without the final reshape the grouped [K, G, n, hd] result is rebuilt.
  expect_same_bits([] { return gqa_module(false); }, {"fuse-attention"}, args);
  std::unique_ptr<Module> m = gqa_module(false);
  run_passes(*m, {"fuse-attention"});
  EXPECT_EQ(op_counts(*m, "f")["attention"], 1);
  EXPECT_EQ(op_counts(*m, "f")["reshape"], 1);
}

TEST(FuseAttention, MultiHeadAttentionOfTheDemoBlockFusesAndGivesTheSameBits) {
  std::unique_ptr<Module> m = build_transformer_block();
  run_passes(*m, {"fuse-attention"});
  EXPECT_EQ(op_counts(*m, "forward")["attention"], 1);
  EXPECT_EQ(op_counts(*m, "forward")["softmax"], 0);
  std::unique_ptr<Module> unfused = build_transformer_block();
  std::unique_ptr<Module> fused = build_transformer_block();
  run_passes(*fused, kAllFusions);
  std::vector<float> out[2];
  for (int k = 0; k < 2; ++k) {
    const Module& mod = k ? *fused : *unfused;
    ReferenceInterpreter interp(mod);
    for (auto& [name, t] : demo_weights(mod, 5)) interp.set_weight(name, std::move(t));
    auto r = interp.run("forward", {wavy({6, 16})});
    ASSERT_TRUE(r.ok()) << r.error().message;
    out[k] = (*r)[0].floats();
  }
  EXPECT_EQ(out[0], out[1]);
}

TEST(FuseAttention, RefusesASoftmaxOverTheWrongAxis) {
  std::string text = print_module(*gqa_module());
  const size_t at = text.find("axis = -1", text.find("= softmax "));
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, 9, "axis = 2");
  PassStats stats;
  std::string out = after("fuse-attention", text, &stats);
  EXPECT_THAT(out, Not(HasSubstr("attention")));
  EXPECT_TRUE(any_remark(stats, "in @f not fused: softmax is over axis 2, not the last axis")) << remarks(stats);
}

TEST(FuseAttention, RefusesAPerHeadMask) {
  auto m = std::make_unique<Module>("attn");
  Builder b = Builder::function(*m, "f");
  Val q = b.param(f32({2, 3, 8}), "q");
  Val k = b.param(f32({2, 3, 8}), "k");
  Val v = b.param(f32({2, 3, 8}), "v");
  Val mask = b.param(boolean({2, 3, 3}), "mask");
  Val scores = b.matmul(q, k, false, true) * b.scalar(0.5);
  b.ret({b.matmul(b.softmax(b.select(mask, scores, b.scalar(-1e30)), -1), v)});
  PassStats stats = run_passes(*m, {"fuse-attention"});
  EXPECT_EQ(op_counts(*m, "f")["attention"], 0);
  EXPECT_TRUE(any_remark(stats, "the mask bool[2,3,3] is not one bool [n, t] mask shared by all heads"))
      << remarks(stats);
}

// ---- fuse-elementwise --------------------------------------------------------

const char* const kChainText = R"(module @chain

func @f(%a: f32[2,3], %b: f32[3]) -> (f32[2,3]) {
  %0 = mul %a, %b : f32[2,3]
  %1 = add %0, %b : f32[2,3]
  %2 = constant {dtype = f32, shape = [], value = 0.5} : f32[]
  %3 = mul %1, %2 : f32[2,3]
  %4 = tanh %3 : f32[2,3]
  return %4
}
)";

TEST(FuseElementwise, AChainBecomesOneOpWithTheExpressionAsItsRegion) {
  PassStats stats;
  EXPECT_EQ(after("fuse-elementwise", kChainText, &stats), R"(module @chain

func @f(%a: f32[2,3], %b: f32[3]) -> (f32[2,3]) {
  %0 = fused_elementwise %a, %b : f32[2,3] {
  ^(%1: f32[], %2: f32[]):
    %3 = mul %1, %2 : f32[]
    %4 = add %3, %2 : f32[]
    %5 = constant {dtype = f32, shape = [], value = 0.5} : f32[]
    %6 = mul %4, %5 : f32[]
    %7 = tanh %6 : f32[]
    yield %7
  }
  return %0
}
)");
  EXPECT_EQ(stats.counters["fused"], 1);
  EXPECT_TRUE(stats.remarks.empty()) << remarks(stats);
}

TEST(FuseElementwise, GivesTheSameBitsWithBroadcastingIntegersAndSelect) {
  auto make = [] {
    auto m = std::make_unique<Module>("mix");
    Builder b = Builder::function(*m, "f");
    Val x = b.param(f32({4, 5}), "x");
    Val y = b.param(f32({5}), "y");
    Val i = b.iota({4, 1}, 0, DType::i32);
    Val fi = b.cast(i * b.scalar(3, DType::i32) - b.scalar(2, DType::i32), DType::f32);
    Val big = b.compare(x * fi, "gt", y);
    b.ret({b.select(big, b.exp(x) / (y + b.scalar(2.0)), b.neg(x) * b.scalar(0.25))});
    return m;
  };
  std::unique_ptr<Module> m = make();
  run_passes(*m, {"fuse-elementwise"});
  std::map<std::string, int> top;  // the function's own ops, not the region's
  for (const auto& op : m->function("f")->body()->ops()) ++top[op->name()];
  EXPECT_EQ(top, (std::map<std::string, int>{{"iota", 1}, {"fused_elementwise", 1}, {"return", 1}}))
      << print_module(*m);
  expect_same_bits(make, {"fuse-elementwise"}, {wavy({4, 5}, 2.f), wavy({5}, 1.f, 0.5f)});
}

TEST(FuseElementwise, AValueUsedOutsideTheChainStaysAndTheRemarkSaysSo) {
  std::string text = kChainText;
  text.replace(text.find("-> (f32[2,3])"), 13, "-> (f32[2,3], f32[2,3])");
  text.replace(text.find("return %4"), 9, "return %4, %1");
  PassStats stats;
  std::string out = after("fuse-elementwise", text, &stats);
  // tanh(%1 * 0.5) fuses, and so does %1 = %a * %b + %b on its own.
  std::unique_ptr<Module> m = parse_ok(out);
  EXPECT_EQ(op_counts(*m, "f")["fused_elementwise"], 2) << out;
  EXPECT_TRUE(any_remark(stats, "%1 in @f not fused: it feeds the elementwise chain ending at %4 but is also used elsewhere"))
      << remarks(stats);
}

// ---- The tiny Gemma-3: fused and unfused give the same bits -----------------------

Gemma3Config tiny_config() { return test_support::tiny_gemma3_config(); }

HostTensor tokens(const std::vector<int64_t>& ids) { return test_support::token_tensor(ids); }

// Runs a prompt through prefill, then decodes the rest one token at a time
// (wrapping the ring of the sliding layer); returns every output and the
// final KV caches, concatenated.
std::vector<float> run_tiny(const Module& m) {
  ReferenceInterpreter interp(m);
  for (auto& [name, t] : demo_weights(m, 7)) interp.set_weight(name, std::move(t));
  std::vector<int64_t> ids;
  for (int i = 0; i < 11; ++i) ids.push_back((i * 7 + 3) % 48);
  const size_t prompt = 5;
  std::vector<float> all;
  auto append = [&](const HostTensor& t) { all.insert(all.end(), t.floats().begin(), t.floats().end()); };
  auto pre = interp.run("prefill", {tokens(std::vector<int64_t>(ids.begin(), ids.begin() + prompt))});
  if (!pre.ok()) throw GraphcError(pre.error().message);
  append((*pre)[0]);
  for (size_t p = prompt; p < ids.size(); ++p) {
    auto out = interp.run("decode_step", {HostTensor::scalar(DType::i32, double(ids[p])),
                                          HostTensor::scalar(DType::i32, double(p))});
    if (!out.ok()) throw GraphcError(out.error().message);
    append((*out)[0]);
  }
  for (int64_t i = 0; i < 2; ++i) {
    append(interp.state(gemma3_k_cache(i)));
    append(interp.state(gemma3_v_cache(i)));
  }
  return all;
}

class TinyGemmaFusion : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(TinyGemmaFusion, PrefillAndDecodeGiveTheSameBitsAsUnfused) {
  std::unique_ptr<Module> unfused = build_gemma3(tiny_config());
  std::unique_ptr<Module> fused = build_gemma3(tiny_config());
  PassStats stats = run_passes(*fused, GetParam());
  EXPECT_GT(stats.counters["fused"], 0);
  const std::vector<float> want = run_tiny(*unfused);
  const std::vector<float> got = run_tiny(*fused);
  ASSERT_EQ(want.size(), got.size());
  int64_t differing = 0;
  for (size_t i = 0; i < want.size(); ++i) differing += want[i] != got[i];
  EXPECT_EQ(differing, 0) << "of " << want.size() << " values";
}

INSTANTIATE_TEST_SUITE_P(EachFusion, TinyGemmaFusion,
                         ::testing::Values(std::vector<std::string>{"fuse-rmsnorm"},
                                           std::vector<std::string>{"fuse-rope"},
                                           std::vector<std::string>{"fuse-attention"},
                                           std::vector<std::string>{"fuse-geglu"},
                                           std::vector<std::string>{"fuse-elementwise"}, kAllFusions),
                         [](const auto& info) {
                           std::string n;
                           for (const std::string& p : info.param) {
                             if (!n.empty()) n += "_then_";
                             for (char c : p) n += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           }
                           return n;
                         });

TEST(TinyGemmaFusion, EveryPatternFusesAtEverySiteWithoutRemarks) {
  std::unique_ptr<Module> m = build_gemma3(tiny_config());
  PassStats stats = run_passes(*m, {"fuse-rmsnorm", "fuse-rope", "fuse-attention", "fuse-geglu"});
  EXPECT_TRUE(stats.remarks.empty()) << remarks(stats);
  for (const char* fn : {"prefill", "decode_step"}) {
    std::map<std::string, int> n = op_counts(*m, fn);
    EXPECT_EQ(n["rms_norm"], 6 * 2 + 1) << fn;
    EXPECT_EQ(n["geglu"], 2) << fn;
    EXPECT_EQ(n["attention"], 2) << fn;
    EXPECT_EQ(n["rope"], 4) << fn;
    EXPECT_EQ(n["softmax"], 0) << fn;
    EXPECT_EQ(n["tanh"], 0) << fn;
    EXPECT_EQ(n["rsqrt"], 0) << fn;
  }
}

// ---- gemma3-270m: one fused op per site ---------------------------------------

TEST(Gemma3Model270M, DecodeStepHasOneFusedOpPerSite) {
  auto config = gemma3_preset("gemma3-270m");
  ASSERT_TRUE(config.ok());
  std::unique_ptr<Module> m = build_gemma3(*config);
  PassStats stats = run_passes(*m, kAllFusions);
  std::map<std::string, int> n = op_counts(*m, "decode_step");
  // Per layer: attention, post-attention, pre-FFN, post-FFN, q and k norms; plus the final norm.
  EXPECT_EQ(n["rms_norm"], 6 * 18 + 1);
  EXPECT_EQ(n["attention"], 18);
  EXPECT_EQ(n["geglu"], 18);
  EXPECT_EQ(n["rope"], 2 * 18);
  for (const char* gone : {"rsqrt", "tanh", "softmax", "concat"}) EXPECT_EQ(n[gone], 0) << gone;
  // Only fuse-elementwise may leave remarks (values shared between chains).
  for (const std::string& r : stats.remarks) EXPECT_THAT(r, ::testing::StartsWith("fuse-elementwise: ")) << r;
}

// The same counts after the default pipeline: cleanup before the fusions does
// not hide a pattern from them.
TEST(Gemma3Model270M, DefaultPipelineLeavesOneFusedOpPerSite) {
  auto config = gemma3_preset("gemma3-270m");
  ASSERT_TRUE(config.ok());
  std::unique_ptr<Module> m = build_gemma3(*config);
  Expected<PipelineReport> report = run_pipeline(*m, default_pipeline());
  ASSERT_TRUE(report.ok()) << report.error().message;
  for (const char* fn : {"decode_step", "prefill"}) {
    std::map<std::string, int> n = op_counts(*m, fn);
    EXPECT_EQ(n["rms_norm"], 6 * 18 + 1) << fn;
    EXPECT_EQ(n["attention"], 18) << fn;
    EXPECT_EQ(n["geglu"], 18) << fn;
  }
}

}  // namespace
}  // namespace graphc
