// The Gemma-3 graph on tiny configs with random weights, on the reference
// interpreter: decode_step with its KV caches reproduces prefill's logits at
// every position while the sliding-window ring wraps around, and the caches
// have the sizes the design promises.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "backends/reference/interpreter.h"
#include "graphs/gemma3.h"
#include "graphs/transformer_block.h"
#include "ir/verifier.h"
#include "tests/tiny_gemma3.h"

namespace graphc {
namespace {

Gemma3Config tiny_config() { return test_support::tiny_gemma3_config(); }

HostTensor tokens(const std::vector<int64_t>& ids) { return test_support::token_tensor(ids); }

void bind_weights(ReferenceInterpreter& interp, const Module& m) {
  for (auto& [name, t] : demo_weights(m, 7)) interp.set_weight(name, std::move(t));
}

TEST(Gemma3Graph, TinyModelVerifies) {
  std::unique_ptr<Module> m = build_gemma3(tiny_config());
  Status s = verify_module(*m);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(m->function("prefill")->result_types()[0], TensorType(DType::f32, {Dim::sym("seq"), 48}));
  EXPECT_EQ(m->function("decode_step")->result_types()[0], TensorType(DType::f32, {48}));
}

TEST(Gemma3Graph, RingOfTheLocalLayerHoldsExactlyTheWindow) {
  std::unique_ptr<Module> m = build_gemma3(tiny_config());
  EXPECT_EQ(m->global(gemma3_k_cache(0))->type, TensorType(DType::f32, {4, 8}));   // window
  EXPECT_EQ(m->global(gemma3_v_cache(0))->type, TensorType(DType::f32, {4, 8}));
  EXPECT_EQ(m->global(gemma3_k_cache(1))->type, TensorType(DType::f32, {16, 8}));  // max_context
}

// decode_step logits equal prefill logits at every position 0 .. 3 x window,
// so the ring wraps twice. Tolerance: both paths compute the same products in
// f32 with double accumulation; masked keys add exact zeros, so they agree to
// a few ulps of the logit scale (1e-4 absolute on logits of size ~1-10).
TEST(Gemma3Graph, DecodeStepMatchesPrefillAtEveryPositionAsTheRingWraps) {
  std::unique_ptr<Module> m = build_gemma3(tiny_config());
  ASSERT_TRUE(verify_module(*m).ok());
  std::vector<int64_t> ids;
  for (int i = 0; i <= 12; ++i) ids.push_back((i * 7 + 3) % 48);

  ReferenceInterpreter full(*m);
  bind_weights(full, *m);
  Expected<std::vector<HostTensor>> all = full.run("prefill", {tokens(ids)});
  ASSERT_TRUE(all.ok()) << all.error().message;
  const HostTensor& expected = (*all)[0];

  ReferenceInterpreter step(*m);
  bind_weights(step, *m);
  Expected<std::vector<HostTensor>> first = step.run("prefill", {tokens({ids[0]})});
  ASSERT_TRUE(first.ok()) << first.error().message;
  double worst = 0;
  for (int64_t v = 0; v < 48; ++v) worst = std::max(worst, std::fabs((*first)[0].get(v) - expected.get(v)));
  for (size_t p = 1; p < ids.size(); ++p) {
    Expected<std::vector<HostTensor>> out = step.run(
        "decode_step", {HostTensor::scalar(DType::i32, double(ids[p])), HostTensor::scalar(DType::i32, double(p))});
    ASSERT_TRUE(out.ok()) << out.error().message;
    for (int64_t v = 0; v < 48; ++v)
      worst = std::max(worst, std::fabs((*out)[0].get(v) - expected.get(int64_t(p) * 48 + v)));
  }
  EXPECT_LT(worst, 1e-4);
}

// A prefill longer than the window leaves the ring holding the last window
// positions; decoding on from there must match a prefill of everything.
TEST(Gemma3Graph, DecodeAfterALongPrefillMatchesOnePrefill) {
  std::unique_ptr<Module> m = build_gemma3(tiny_config());
  std::vector<int64_t> ids;
  for (int i = 0; i < 11; ++i) ids.push_back((i * 5 + 1) % 48);

  ReferenceInterpreter full(*m);
  bind_weights(full, *m);
  auto all = full.run("prefill", {tokens(ids)});
  ASSERT_TRUE(all.ok()) << all.error().message;

  ReferenceInterpreter step(*m);
  bind_weights(step, *m);
  const size_t prompt = 7;  // wraps the 4-slot ring once
  auto pre = step.run("prefill", {tokens(std::vector<int64_t>(ids.begin(), ids.begin() + prompt))});
  ASSERT_TRUE(pre.ok()) << pre.error().message;
  double worst = 0;
  for (size_t p = prompt; p < ids.size(); ++p) {
    auto out = step.run("decode_step", {HostTensor::scalar(DType::i32, double(ids[p])),
                                        HostTensor::scalar(DType::i32, double(p))});
    ASSERT_TRUE(out.ok()) << out.error().message;
    for (int64_t v = 0; v < 48; ++v)
      worst = std::max(worst, std::fabs((*out)[0].get(v) - (*all)[0].get(int64_t(p) * 48 + v)));
  }
  EXPECT_LT(worst, 1e-4);
}

TEST(Gemma3Graph, PresetsHaveThePublishedDimensions) {
  auto c = gemma3_preset("gemma3-270m");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->hidden, 640);
  EXPECT_EQ(c->intermediate, 2048);
  EXPECT_EQ(c->layers, 18);
  EXPECT_EQ(c->heads, 4);
  EXPECT_EQ(c->kv_heads, 1);
  EXPECT_EQ(c->head_dim, 256);
  EXPECT_EQ(c->sliding_window, 512);
  EXPECT_TRUE(c->is_global_layer(5));
  EXPECT_FALSE(c->is_global_layer(6));
  EXPECT_TRUE(c->is_global_layer(17));
  EXPECT_DOUBLE_EQ(c->attention_scale(), 1.0 / 16);
  auto big = gemma3_preset("gemma3-27b");
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->head_dim, 128);
  EXPECT_DOUBLE_EQ(big->attention_scale(), 1.0 / std::sqrt(168.0));
  EXPECT_DOUBLE_EQ(big->rope_global_scale, 8.0);
  EXPECT_DOUBLE_EQ(gemma3_preset("gemma3-1b")->rope_global_scale, 1.0);
  EXPECT_EQ(gemma3_preset("gemma3-4b")->kv_heads, 4);
  EXPECT_EQ(gemma3_preset("gemma3-12b")->layers, 48);
  auto bad = gemma3_preset("gemma3-2b");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, ::testing::HasSubstr("unknown model preset 'gemma3-2b'"));
}

TEST(Gemma3Config, FromYamlTakesAPresetAndOverrides) {
  auto c = gemma3_config_from_yaml("preset: gemma3-1b\nmax_context: 2048\n", "exp.yaml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->hidden, 1152);
  EXPECT_EQ(c->max_context, 2048);
  auto tiny = gemma3_config_from_yaml(
      "{vocab: 48, hidden: 16, intermediate: 24, layers: 2, heads: 2, kv_heads: 1, head_dim: 8,\n"
      " query_pre_attn_scalar: 8, sliding_window: 4, global_every: 2, max_position: 64, max_context: 16}",
      "tiny.yaml");
  ASSERT_TRUE(tiny.ok()) << tiny.error().message;
  EXPECT_EQ(tiny->name, "custom");
  EXPECT_EQ(tiny->hidden, 16);
  EXPECT_TRUE(verify_module(*build_gemma3(*tiny)).ok());
}

TEST(Gemma3Config, FromYamlNamesTheBadKeyWithItsPosition) {
  auto misspelt = gemma3_config_from_yaml("preset: gemma3-270m\nhiden: 12\n", "exp.yaml");
  ASSERT_FALSE(misspelt.ok());
  EXPECT_THAT(misspelt.error().message,
              ::testing::StartsWith("exp.yaml:2:1: unknown key 'model.hiden' (did you mean 'hidden'?)"));
  auto wrong_type = gemma3_config_from_yaml("preset: gemma3-270m\nlayers: many\n", "exp.yaml");
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_EQ(wrong_type.error().message, "exp.yaml:2:9: model.layers: expected an integer, got 'many'");
  auto bad_preset = gemma3_config_from_yaml("preset: gemma3-2b\n", "exp.yaml");
  ASSERT_FALSE(bad_preset.ok());
  EXPECT_THAT(bad_preset.error().message, ::testing::HasSubstr("exp.yaml:1:9: model.preset: unknown model preset"));
  auto invalid = gemma3_config_from_yaml("preset: gemma3-270m\nkv_heads: 3\n", "exp.yaml");
  ASSERT_FALSE(invalid.ok());
  EXPECT_THAT(invalid.error().message, ::testing::HasSubstr("model.heads (4) must be a multiple of model.kv_heads (3)"));
}

TEST(Gemma3Graph, The270mModuleBuildsAndVerifies) {
  std::unique_ptr<Module> m = build_gemma3(*gemma3_preset("gemma3-270m"));
  Status s = verify_module(*m);
  ASSERT_TRUE(s.ok()) << s.error().message;
  // 13 weights per layer + embed + final norm, as in the checkpoints.
  int weights = 0;
  for (const Global& g : m->globals()) weights += g.kind == GlobalKind::Weight;
  EXPECT_EQ(weights, 13 * 18 + 2);
}

}  // namespace
}  // namespace graphc
