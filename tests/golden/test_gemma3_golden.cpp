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
#include "tests/test_models.h"

namespace graphc {
namespace {

constexpr double kTolerance = 1e-3;

nlohmann::json read_fixture() {
  std::ifstream in(std::filesystem::path(GRAPHC_SOURCE_DIR) / "tests/fixtures/gemma3-270m/golden.json");
  if (!in) throw GraphcError("tests/fixtures/gemma3-270m/golden.json is missing");
  return nlohmann::json::parse(in);
}

const nlohmann::json& fixture() {
  static const nlohmann::json f = read_fixture();
  return f;
}

std::vector<std::string> prompt_names() {
  std::vector<std::string> names;
  for (const auto& p : fixture().at("prompts")) names.push_back(p.at("name"));
  return names;
}

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

struct Row {
  const HostTensor* logits;
  int64_t offset;  // of the row's first element
  int64_t vocab;
  double at(int64_t id) const { return logits->get(offset + id); }
  int64_t argmax() const {
    int64_t best = 0;
    for (int64_t v = 1; v < vocab; ++v)
      if (at(v) > at(best)) best = v;
    return best;
  }
  double logsumexp() const {
    double mx = at(argmax()), sum = 0;
    for (int64_t v = 0; v < vocab; ++v) sum += std::exp(at(v) - mx);
    return mx + std::log(sum);
  }
};

TEST_P(Gemma3Golden, MatchesTransformers) {
  const nlohmann::json& p = prompt();
  const int64_t V = model_->config.vocab;
  const auto ids = p.at("ids").get<std::vector<int64_t>>();
  std::vector<int32_t> ids32(ids.begin(), ids.end());
  ASSERT_EQ(model_->tokenizer->encode(p.at("text").get<std::string>(), p.at("add_bos").get<bool>()), ids32);

  ReferenceInterpreter& interp = *model_->interp;
  auto prefill = interp.run("prefill", {HostTensor::from_ints(DType::i32, {int64_t(ids.size())}, ids)});
  ASSERT_TRUE(prefill.ok()) << prefill.error().message;
  const HostTensor& logits = (*prefill)[0];
  double max_error = 0;

  // Prefill: the reference's top-20 and logsumexp at every position.
  for (size_t pos = 0; pos < ids.size(); ++pos) {
    const Row row{&logits, int64_t(pos) * V, V};
    const auto& want = p.at("positions").at(pos);
    const auto top_ids = want.at("top_ids").get<std::vector<int64_t>>();
    const auto top_logits = want.at("top_logits").get<std::vector<double>>();
    for (size_t k = 0; k < top_ids.size(); ++k) {
      max_error = std::max(max_error, std::fabs(row.at(top_ids[k]) - top_logits[k]));
      EXPECT_NEAR(row.at(top_ids[k]), top_logits[k], kTolerance) << "position " << pos << " id " << top_ids[k];
    }
    EXPECT_NEAR(row.logsumexp(), p.at("logsumexp").at(pos).get<double>(), kTolerance) << "position " << pos;
    if (top_logits[0] - top_logits[1] > 2 * kTolerance) {
      EXPECT_EQ(row.argmax(), top_ids[0]) << "position " << pos;
    }
  }

  // Greedy continuation through decode_step.
  const auto& greedy = p.at("greedy");
  const auto want_ids = greedy.at("ids").get<std::vector<int64_t>>();
  const auto margins = greedy.at("margin").get<std::vector<double>>();
  const auto top1 = greedy.at("top1_logit").get<std::vector<double>>();
  HostTensor step_logits = logits;
  Row row{&step_logits, int64_t(ids.size() - 1) * V, V};
  size_t compared = 0;
  for (; compared < want_ids.size(); ++compared) {
    const size_t s = compared;
    max_error = std::max(max_error, std::fabs(row.at(want_ids[s]) - top1[s]));
    EXPECT_NEAR(row.at(want_ids[s]), top1[s], kTolerance) << "greedy step " << s;
    if (margins[s] <= 2 * kTolerance) break;  // the reference itself is undecided here
    ASSERT_EQ(row.argmax(), want_ids[s]) << "greedy step " << s << " (reference margin " << margins[s] << ")";
    if (s + 1 == want_ids.size()) {
      ++compared;
      break;
    }
    auto out = interp.run("decode_step", {HostTensor::scalar(DType::i32, double(want_ids[s])),
                                          HostTensor::scalar(DType::i32, double(ids.size() + s))});
    ASSERT_TRUE(out.ok()) << out.error().message;
    step_logits = std::move((*out)[0]);
    row = Row{&step_logits, 0, V};
  }
  RecordProperty("greedy_steps_compared", int(compared));
  RecordProperty("max_logit_error", std::to_string(max_error));
  std::printf("[ %s ] greedy tokens equal through step %zu of %zu%s; max logit error %.3g\n", GetParam().c_str(),
              compared, want_ids.size(),
              compared < want_ids.size() ? " (then the reference margin is inside the tolerance)" : "", max_error);
}

INSTANTIATE_TEST_SUITE_P(Fixture, Gemma3Golden, ::testing::ValuesIn(prompt_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace graphc
