// Golden tests: Gemma-3 270M (the Q4_K_M GGUF, dequantized) on the reference
// interpreter against Hugging Face transformers' Gemma3ForCausalLM run in
// float32 (eager attention) on the same dequantized weights
// (tests/fixtures/gemma3-270m/golden.json, made by tools/reference/).
//
// For every fixture prompt: the tokenizer gives the fixture's ids exactly;
// prefill gives the fixture's top-20 logits and logsumexp at every position;
// greedy decoding through decode_step (the KV-cache path) gives the fixture's
// 32-token continuation token for token, up to the first step where the
// reference's top-1/top-2 margin is inside our tolerance (there the argmax may
// legitimately flip; the test reports that step).
//
// Tolerance: 1e-3 absolute on logits. Both sides compute in float32 from the
// same float32 weights; they differ only in summation order (we accumulate
// reductions and matmuls in double, PyTorch in float32 with its own blocking),
// which moves logits of magnitude ~20 by ~1e-5 after 18 layers (measured: see
// the max_logit_error property each test records). A wrong weight, norm
// offset, RoPE pairing or mask moves logits by whole units, so 1e-3 separates
// the two by two orders of magnitude on each side.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

#include "backends/reference/interpreter.h"
#include "graphs/gemma3.h"
#include "runtime/gemma3_checkpoint.h"
#include "tests/golden/golden_check.h"
#include "tests/test_models.h"

namespace graphc {
namespace {

using test_support::fixture;
using test_support::prompt_names;

// One model, tokenizer and interpreter for the whole suite: dequantizing the
// weights once takes seconds. Reusing the interpreter across prompts also
// checks that prefill resets the KV caches.
struct Model {
  std::shared_ptr<const Gemma3Checkpoint> checkpoint;
  Gemma3Config config;
  std::unique_ptr<Module> module;
  std::unique_ptr<ReferenceInterpreter> interp;
  std::unique_ptr<Tokenizer> tokenizer;
};

class Gemma3Golden : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(test_support::gemma3_270m_gguf())) return;
    auto ckpt = Gemma3Checkpoint::open(test_support::gemma3_270m_gguf().string());
    if (!ckpt.ok()) {
      error_ = ckpt.error().message;
      return;
    }
    model_ = new Model;
    model_->checkpoint = std::make_shared<const Gemma3Checkpoint>(std::move(ckpt).take());
    auto config = config_from_gguf(*model_->checkpoint->gguf(), "gemma3-270m");
    auto tok = tokenizer_from_gguf(*model_->checkpoint->gguf());
    if (!config.ok() || !tok.ok()) {
      error_ = config.ok() ? tok.error().message : config.error().message;
      return;
    }
    model_->config = *config;
    model_->config.max_context = 64;  // prompts <= 16 tokens + 32 generated
    model_->module = build_gemma3(model_->config);
    auto loader = gemma3_weight_loader(model_->checkpoint, *model_->module);
    if (!loader.ok()) {
      error_ = loader.error().message;
      return;
    }
    model_->interp = std::make_unique<ReferenceInterpreter>(*model_->module);
    model_->interp->set_weight_loader(*loader);
    model_->tokenizer = std::make_unique<Tokenizer>(std::move(tok).take());
  }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }
  void SetUp() override {
    if (!std::filesystem::exists(test_support::gemma3_270m_gguf()))
      GTEST_SKIP() << test_support::gemma3_270m_gguf() << " is absent; scripts/fetch-weights.sh fetches it";
    ASSERT_TRUE(model_ && model_->interp) << error_;
  }

  const nlohmann::json& prompt() const {
    for (const auto& p : fixture().at("prompts"))
      if (p.at("name") == GetParam()) return p;
    throw GraphcError("no prompt " + GetParam());
  }

  static inline Model* model_ = nullptr;
  static inline std::string error_;
};

TEST_P(Gemma3Golden, MatchesTransformers) {
  ReferenceInterpreter& interp = *model_->interp;
  test_support::check_golden_prompt(
      prompt(), *model_->tokenizer, model_->config.vocab,
      [&](const std::string& fn, const std::vector<HostTensor>& args) { return interp.run(fn, args); }, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Fixture, Gemma3Golden, ::testing::ValuesIn(prompt_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace graphc
