// The tiny Gemma-3 (tests/tiny_gemma3.h) after the default pipeline on the
// JIT against the reference interpreter: prefill, then decode_step at every
// position while the sliding-window ring wraps, logits and KV caches.
// Tolerance: float32 against double accumulation over a few hundred terms,
// 1e-4 absolute on logits of magnitude ~1-10.
#include <gtest/gtest.h>

#include <cmath>

#include "backends/cpu/cpu_backend.h"
#include "backends/reference/interpreter.h"
#include "graphs/gemma3.h"
#include "graphs/transformer_block.h"
#include "passes/pass_manager.h"
#include "tests/tiny_gemma3.h"

namespace graphc {
namespace {

void expect_close(const HostTensor& a, const HostTensor& b, double tol, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  double worst = 0;
  for (int64_t i = 0; i < a.numel(); ++i) worst = std::max(worst, std::fabs(a.get(i) - b.get(i)));
  EXPECT_LE(worst, tol) << what;
}

TEST(JitTinyGemma3, PrefillThenDecodeMatchTheReference) {
  const Gemma3Config config = test_support::tiny_gemma3_config();
  std::unique_ptr<Module> m = build_gemma3(config);
  ASSERT_TRUE(run_pipeline(*m, default_pipeline()).ok());
  ReferenceInterpreter ref(*m);
  CpuBackend jit(*m);
  for (auto& [name, t] : demo_weights(*m, 7)) {
    ref.set_weight(name, t);
    jit.set_weight(name, t);
  }
  const std::vector<int64_t> prompt = {2, 17, 5, 9, 30};
  auto a = ref.run("prefill", {test_support::token_tensor(prompt)});
  auto b = jit.run("prefill", {test_support::token_tensor(prompt)});
  ASSERT_TRUE(a.ok() && b.ok()) << (b.ok() ? "" : b.error().message);
  expect_close((*a)[0], (*b)[0], 1e-4, "prefill logits");
  for (int layer = 0; layer < config.layers; ++layer) {
    expect_close(ref.state(gemma3_k_cache(layer)), jit.state(gemma3_k_cache(layer)), 1e-4,
                 "k cache " + std::to_string(layer) + " after prefill");
    expect_close(ref.state(gemma3_v_cache(layer)), jit.state(gemma3_v_cache(layer)), 1e-4,
                 "v cache " + std::to_string(layer) + " after prefill");
  }
  for (int pos = 5; pos < 14; ++pos) {
    const std::vector<HostTensor> args{HostTensor::scalar(DType::i32, (pos * 7) % 48), HostTensor::scalar(DType::i32, pos)};
    auto x = ref.run("decode_step", args);
    auto y = jit.run("decode_step", args);
    ASSERT_TRUE(x.ok() && y.ok()) << (y.ok() ? "" : y.error().message);
    expect_close((*x)[0], (*y)[0], 1e-4, "decode_step logits at " + std::to_string(pos));
    for (int layer = 0; layer < config.layers; ++layer)
      expect_close(ref.state(gemma3_k_cache(layer)), jit.state(gemma3_k_cache(layer)), 1e-4,
                   "k cache " + std::to_string(layer) + " at " + std::to_string(pos));
  }
}

}  // namespace
}  // namespace graphc
