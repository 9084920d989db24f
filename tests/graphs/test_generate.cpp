// generate as IR on a tiny Gemma-3 with random weights, on the reference
// interpreter: greedy generation equals prefill + decode_step driven by hand;
// the same seed gives the same tokens and another seed other tokens; top_k = 1
// is greedy; stop tokens and the host's stop answer end the loop; tokens
// stream out through emit in order.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backends/reference/interpreter.h"
#include "graphs/gemma3.h"
#include "graphs/generate.h"
#include "graphs/transformer_block.h"
#include "ir/verifier.h"
#include "tests/tiny_gemma3.h"

namespace graphc {
namespace {

using test_support::tiny_gemma3_config;
using test_support::token_tensor;

struct Generated {
  std::vector<int64_t> tokens;  // the first `count`
  std::vector<int64_t> streamed;
  int64_t count = 0;
};

Generated generate(const GenerateConfig& g, const std::vector<int64_t>& prompt, int64_t seed,
                   std::function<bool(int64_t)> stop = nullptr) {
  const Gemma3Config config = tiny_gemma3_config();
  std::unique_ptr<Module> m = build_gemma3(config);
  Status s = add_generate(*m, config, g);
  if (!s.ok()) throw GraphcError(s.error().message);
  verify_module(*m).throw_if_error();
  ReferenceInterpreter interp(*m);
  for (auto& [name, t] : demo_weights(*m, 7)) interp.set_weight(name, std::move(t));
  Generated out;
  interp.set_emit_handler([&](const std::string& channel, const HostTensor& v) {
    EXPECT_EQ(channel, "token");
    out.streamed.push_back(v.get_int(0));
    return stop && stop(v.get_int(0));
  });
  auto r = interp.run("generate", {token_tensor(prompt), HostTensor::scalar(DType::i64, double(seed))});
  if (!r.ok()) throw GraphcError(r.error().message);
  out.count = (*r)[1].get_int(0);
  for (int64_t i = 0; i < out.count; ++i) out.tokens.push_back((*r)[0].get_int(i));
  return out;
}

std::vector<int64_t> greedy_by_hand(const std::vector<int64_t>& prompt, int steps) {
  const Gemma3Config config = tiny_gemma3_config();
  std::unique_ptr<Module> m = build_gemma3(config);
  ReferenceInterpreter interp(*m);
  for (auto& [name, t] : demo_weights(*m, 7)) interp.set_weight(name, std::move(t));
  auto argmax = [&](const HostTensor& t, int64_t row) {
    int64_t best = 0;
    for (int64_t v = 1; v < config.vocab; ++v)
      if (t.get(row * config.vocab + v) > t.get(row * config.vocab + best)) best = v;
    return best;
  };
  auto logits = interp.run("prefill", {token_tensor(prompt)});
  std::vector<int64_t> out{argmax((*logits)[0], int64_t(prompt.size()) - 1)};
  for (int i = 1; i < steps; ++i) {
    auto step = interp.run("decode_step", {HostTensor::scalar(DType::i32, double(out.back())),
                                           HostTensor::scalar(DType::i32, double(prompt.size() + i - 1))});
    out.push_back(argmax((*step)[0], 0));
  }
  return out;
}

TEST(Generate, GreedyEqualsPrefillAndDecodeStepByHand) {
  GenerateConfig g;
  g.max_new_tokens = 8;
  const Generated got = generate(g, {2, 17, 5}, 0);
  EXPECT_EQ(got.count, 8);
  EXPECT_EQ(got.tokens, greedy_by_hand({2, 17, 5}, 8));
  EXPECT_EQ(got.streamed, got.tokens);
}

TEST(Generate, SameSeedSameTokensOtherSeedOtherTokens) {
  GenerateConfig g;
  g.max_new_tokens = 10;
  g.sampling = {.strategy = "sample", .temperature = 1.5};
  const Generated a = generate(g, {3, 9}, 1234);
  const Generated b = generate(g, {3, 9}, 1234);
  EXPECT_EQ(a.tokens, b.tokens);
  // With 48 tokens at temperature 1.5, two seeds agreeing on 10 draws would be
  // a broken generator (the chance is far below 1e-6 for these logits).
  EXPECT_NE(a.tokens, generate(g, {3, 9}, 99).tokens);
}

TEST(Generate, TopKOfOneIsGreedy) {
  GenerateConfig g;
  g.max_new_tokens = 6;
  g.sampling = {.strategy = "sample", .temperature = 0.7, .top_k = 1};
  EXPECT_EQ(generate(g, {4, 4, 8}, 5).tokens, greedy_by_hand({4, 4, 8}, 6));
  g.sampling = {.strategy = "sample", .top_p = 1e-6};  // only the most likely token has mass
  EXPECT_EQ(generate(g, {4, 4, 8}, 5).tokens, greedy_by_hand({4, 4, 8}, 6));
}

TEST(Generate, StopTokenAndTheHostsAnswerEndTheLoop) {
  const std::vector<int64_t> greedy = greedy_by_hand({2, 17, 5}, 8);
  GenerateConfig g;
  g.max_new_tokens = 8;
  g.stop_tokens = {static_cast<int32_t>(greedy[3])};
  const Generated stopped = generate(g, {2, 17, 5}, 0);
  // The first occurrence of the stop token ends generation and is not counted.
  const auto first = std::find(greedy.begin(), greedy.end(), greedy[3]) - greedy.begin();
  EXPECT_EQ(stopped.count, first);
  EXPECT_EQ(stopped.tokens, std::vector<int64_t>(greedy.begin(), greedy.begin() + first));
  EXPECT_EQ(int64_t(stopped.streamed.size()), first + 1);

  GenerateConfig free_run;
  free_run.max_new_tokens = 8;
  int seen = 0;
  const Generated host = generate(free_run, {2, 17, 5}, 0, [&](int64_t) { return ++seen == 2; });
  EXPECT_EQ(host.count, 2);  // the host stopped after the second token, which still counts
  EXPECT_EQ(host.streamed.size(), 2u);
}

TEST(Generate, RepetitionPenaltyChangesWhatRepeats) {
  GenerateConfig g;
  g.max_new_tokens = 12;
  const Generated plain = generate(g, {1, 1, 1}, 0);
  g.sampling.repetition_penalty = 50.0;  // any seen token falls far behind
  const Generated penalised = generate(g, {1, 1, 1}, 0);
  // A token appears at most once under such a penalty until the unseen ones
  // run out; the prompt's token is never chosen.
  std::set<int64_t> distinct(penalised.tokens.begin(), penalised.tokens.end());
  EXPECT_EQ(distinct.size(), penalised.tokens.size());
  EXPECT_EQ(std::count(penalised.tokens.begin(), penalised.tokens.end(), 1), 0);
  EXPECT_NE(plain.tokens, penalised.tokens);
}

TEST(Generate, BadConfigIsOneError) {
  const Gemma3Config config = tiny_gemma3_config();
  std::unique_ptr<Module> m = build_gemma3(config);
  GenerateConfig g;
  g.max_new_tokens = 100;
  EXPECT_EQ(add_generate(*m, config, g).error().message,
            "generate: max_new_tokens must be in [1, 16] (the model's max_context), got 100");
  g.max_new_tokens = 4;
  g.sampling.top_p = 0;
  EXPECT_EQ(add_generate(*m, config, g).error().message, "generate: sampling.top_p must be in (0, 1], got 0");
}

}  // namespace
}  // namespace graphc

namespace graphc {
namespace {

TEST(GenerateBatch, EachRowEqualsGenerateOnItsPromptAlone) {
  const Gemma3Config config = test_support::tiny_gemma3_config();
  GenerateConfig g;
  g.max_new_tokens = 5;
  g.sampling = {.strategy = "sample", .temperature = 1.2, .top_k = 10};
  std::unique_ptr<Module> m = build_gemma3(config);
  ASSERT_TRUE(add_generate(*m, config, g).ok());
  ASSERT_TRUE(add_generate_batch(*m, config, g).ok());
  Status v = verify_module(*m);
  ASSERT_TRUE(v.ok()) << v.error().message;
  ReferenceInterpreter interp(*m);
  for (auto& [name, t] : demo_weights(*m, 7)) interp.set_weight(name, std::move(t));
  // Three prompts of lengths 3, 1 and 4, padded to 4 (the window).
  const std::vector<std::vector<int64_t>> prompts = {{5, 9, 2}, {7}, {1, 2, 3, 4}};
  std::vector<int64_t> padded, lengths;
  for (const auto& p : prompts) {
    for (size_t i = 0; i < 4; ++i) padded.push_back(i < p.size() ? p[i] : 0);
    lengths.push_back(int64_t(p.size()));
  }
  std::vector<int64_t> prompt_marks;
  interp.set_emit_handler([&](const std::string& channel, const HostTensor& v) {
    if (channel == "prompt") prompt_marks.push_back(v.get_int(0));
    return false;
  });
  auto batch = interp.run("generate_batch", {HostTensor::from_ints(DType::i32, {3, 4}, padded),
                                             HostTensor::from_ints(DType::i32, {3}, lengths),
                                             HostTensor::scalar(DType::i64, 11)});
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  EXPECT_EQ(prompt_marks, (std::vector<int64_t>{0, 1, 2}));
  for (int r = 0; r < 3; ++r) {
    auto one = interp.run("generate", {test_support::token_tensor(prompts[r]), HostTensor::scalar(DType::i64, 11 + r)});
    ASSERT_TRUE(one.ok()) << one.error().message;
    EXPECT_EQ((*batch)[1].get_int(r), (*one)[1].get_int(0)) << "row " << r;
    for (int i = 0; i < 5; ++i) EXPECT_EQ((*batch)[0].get_int(r * 5 + i), (*one)[0].get_int(i)) << "row " << r;
  }
}

}  // namespace
}  // namespace graphc
