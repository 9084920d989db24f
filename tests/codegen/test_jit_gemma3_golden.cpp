// Golden tests on the JIT backend: Gemma-3 270M after the default pass
// pipeline (fused RMSNorm, RoPE, attention, GeGLU, elementwise), compiled to
// JIT kernels, against Hugging Face transformers (the fixture of
// tests/golden/), with the same tolerance and the same greedy continuations as
// the reference interpreter's golden test. Weights are the Q4_K_M checkpoint
// dequantized to f32 once (WeightFormat::f32), the numbers the fixture was
// made from.
//
// The JIT accumulates in float32 (the reference interpreter in double); the
// fixture is float32 too, so the tolerance of 1e-3 on logits (see
// tests/golden/test_gemma3_golden.cpp for why) holds with the same margin.
#include <gtest/gtest.h>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/gemma3_weights.h"
#include "graphs/gemma3.h"
#include "passes/pass_manager.h"
#include "tests/golden/golden_check.h"
#include "tests/test_models.h"

namespace graphc {
namespace {

using test_support::fixture;
using test_support::prompt_names;

struct JitModel {
  std::shared_ptr<const Gemma3Checkpoint> checkpoint;
  Gemma3Config config;
  std::unique_ptr<Module> module;
  std::unique_ptr<CpuBackend> backend;
  std::unique_ptr<Tokenizer> tokenizer;
};

class Gemma3GoldenJit : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(test_support::gemma3_270m_gguf())) return;
    auto fail = [](const std::string& why) { error_ = why; };
    auto ckpt = Gemma3Checkpoint::open(test_support::gemma3_270m_gguf().string());
    if (!ckpt.ok()) return fail(ckpt.error().message);
    model_ = new JitModel;
    model_->checkpoint = std::make_shared<const Gemma3Checkpoint>(std::move(ckpt).take());
    auto config = config_from_gguf(*model_->checkpoint->gguf(), "gemma3-270m");
    if (!config.ok()) return fail(config.error().message);
    auto tok = tokenizer_from_gguf(*model_->checkpoint->gguf());
    if (!tok.ok()) return fail(tok.error().message);
    model_->config = *config;
    model_->config.max_context = 64;  // prompts <= 16 tokens + 32 generated
    model_->module = build_gemma3(model_->config);
    auto report = run_pipeline(*model_->module, default_pipeline());
    if (!report.ok()) return fail(report.error().message);
    auto weights = gemma3_cpu_weights(model_->checkpoint, *model_->module, WeightFormat::f32);
    if (!weights.ok()) return fail(weights.error().message);
    model_->backend = std::make_unique<CpuBackend>(*model_->module);
    model_->backend->set_weight_provider(*weights);
    model_->tokenizer = std::make_unique<Tokenizer>(std::move(tok).take());
  }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }
  void SetUp() override {
    if (!std::filesystem::exists(test_support::gemma3_270m_gguf()))
      GTEST_SKIP() << test_support::gemma3_270m_gguf() << " is absent; scripts/fetch-weights.sh fetches it";
    ASSERT_TRUE(model_ && model_->backend) << error_;
  }
  const nlohmann::json& prompt() const {
    for (const auto& p : fixture().at("prompts"))
      if (p.at("name") == GetParam()) return p;
    throw GraphcError("no prompt " + GetParam());
  }

  static inline JitModel* model_ = nullptr;
  static inline std::string error_;
};

TEST_P(Gemma3GoldenJit, MatchesTransformers) {
  CpuBackend& backend = *model_->backend;
  test_support::check_golden_prompt(
      prompt(), *model_->tokenizer, model_->config.vocab,
      [&](const std::string& fn, const std::vector<HostTensor>& args) { return backend.run(fn, args); }, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Fixture, Gemma3GoldenJit, ::testing::ValuesIn(prompt_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace graphc
