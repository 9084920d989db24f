// score as IR on a tiny Gemma-3: the negative log-likelihood equals one
// computed from prefill's logits in double on the host.
#include <gtest/gtest.h>

#include <cmath>

#include "backends/reference/interpreter.h"
#include "graphs/gemma3.h"
#include "graphs/score.h"
#include "graphs/transformer_block.h"
#include "ir/verifier.h"
#include "tests/tiny_gemma3.h"

namespace graphc {
namespace {

TEST(Score, EqualsTheLogLikelihoodFromPrefillLogits) {
  const Gemma3Config config = test_support::tiny_gemma3_config();
  std::unique_ptr<Module> m = build_gemma3(config);
  ASSERT_TRUE(add_score(*m, config).ok());
  ASSERT_TRUE(verify_module(*m).ok());
  ReferenceInterpreter interp(*m);
  for (auto& [name, t] : demo_weights(*m, 7)) interp.set_weight(name, std::move(t));
  const std::vector<int64_t> ids = {2, 11, 30, 7, 7, 41};
  auto logits = interp.run("prefill", {test_support::token_tensor(ids)});
  ASSERT_TRUE(logits.ok());
  double want = 0;
  for (size_t p = 0; p + 1 < ids.size(); ++p) {
    double mx = -1e300, sum = 0;
    for (int64_t v = 0; v < config.vocab; ++v) mx = std::max(mx, (*logits)[0].get(p * config.vocab + v));
    for (int64_t v = 0; v < config.vocab; ++v) sum += std::exp((*logits)[0].get(p * config.vocab + v) - mx);
    want += mx + std::log(sum) - (*logits)[0].get(p * config.vocab + ids[p + 1]);
  }
  std::vector<int64_t> targets(ids.begin() + 1, ids.end());
  targets.push_back(0);
  std::vector<float> weights(ids.size(), 1.0f);
  weights.back() = 0;
  auto got = interp.run("score", {test_support::token_tensor(ids), test_support::token_tensor(targets),
                                  HostTensor::from_floats(DType::f32, {int64_t(ids.size())}, weights)});
  ASSERT_TRUE(got.ok()) << got.error().message;
  // float32 exp/log/sums of 6 x 48 values vs double: agreement to ~1e-5 relative.
  EXPECT_NEAR((*got)[0].get(0), want, 1e-5 * std::fabs(want));
  EXPECT_GT(want, 0);
}

}  // namespace
}  // namespace graphc
