// The golden check shared by the backends: one fixture prompt of
// tests/fixtures/gemma3-270m/golden.json (Hugging Face transformers, float32)
// against a backend's prefill and decode_step. See test_gemma3_golden.cpp for
// what is compared and why the tolerance is what it is.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>

#include "ir/status.h"
#include "runtime/host_tensor.h"
#include "runtime/tokenizer.h"

namespace graphc::test_support {

constexpr double kTolerance = 1e-3;

inline nlohmann::json read_fixture() {
  std::ifstream in(std::filesystem::path(GRAPHC_SOURCE_DIR) / "tests/fixtures/gemma3-270m/golden.json");
  if (!in) throw GraphcError("tests/fixtures/gemma3-270m/golden.json is missing");
  return nlohmann::json::parse(in);
}

inline const nlohmann::json& fixture() {
  static const nlohmann::json f = read_fixture();
  return f;
}

inline std::vector<std::string> prompt_names() {
  std::vector<std::string> names;
  for (const auto& p : fixture().at("prompts")) names.push_back(p.at("name"));
  return names;
}

using RunFn = std::function<Expected<std::vector<HostTensor>>(const std::string&, const std::vector<HostTensor>&)>;

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

inline void check_golden_prompt(const nlohmann::json& p, const Tokenizer& tokenizer, int64_t V, const RunFn& run,
                                const std::string& name) {
  const auto ids = p.at("ids").get<std::vector<int64_t>>();
  std::vector<int32_t> ids32(ids.begin(), ids.end());
  ASSERT_EQ(tokenizer.encode(p.at("text").get<std::string>(), p.at("add_bos").get<bool>()), ids32);

  auto prefill = run("prefill", {HostTensor::from_ints(DType::i32, {int64_t(ids.size())}, ids)});
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
    auto out = run("decode_step", {HostTensor::scalar(DType::i32, double(want_ids[s])),
                                          HostTensor::scalar(DType::i32, double(ids.size() + s))});
    ASSERT_TRUE(out.ok()) << out.error().message;
    step_logits = std::move((*out)[0]);
    row = Row{&step_logits, 0, V};
  }
  ::testing::Test::RecordProperty("greedy_steps_compared", int(compared));
  ::testing::Test::RecordProperty("max_logit_error", std::to_string(max_error));
  std::printf("[ %s ] greedy tokens equal through step %zu of %zu%s; max logit error %.3g\n", name.c_str(),
              compared, want_ids.size(),
              compared < want_ids.size() ? " (then the reference margin is inside the tolerance)" : "", max_error);
}


}  // namespace graphc::test_support
