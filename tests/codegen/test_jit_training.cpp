// Training on the JIT: the tiny Gemma-3 with LoRA adapters, @train_step
// after the default pipeline (fusions run over forward and backward) on the
// CPU backend against the unoptimised module on the reference interpreter,
// three AdamW steps. Tolerance: float32 against double accumulation; the
// loss (~4) to 1e-4 and the adapter factors (~0.1, moved by lr 1e-2 per
// step) to 1e-4 absolute. AdamW's update m / sqrt(v) divides small numbers
// at the first step, so a factor whose gradient is near zero could differ
// more; none is, with these inputs.
#include <gtest/gtest.h>

#include <cmath>

#include "backends/cpu/cpu_backend.h"
#include "backends/reference/interpreter.h"
#include "graphs/gemma3.h"
#include "graphs/train_step.h"
#include "graphs/transformer_block.h"
#include "passes/pass_manager.h"
#include "tests/tiny_gemma3.h"

namespace graphc {
namespace {

std::unique_ptr<Module> tiny_training_module() {
  const Gemma3Config config = test_support::tiny_gemma3_config();
  std::unique_ptr<Module> m = build_gemma3(config);
  TrainConfig t;
  t.seq_len = 8;
  t.micro_batches = 2;
  t.loss_chunk = 4;
  t.adapters = "add-lora{targets=layer.*_proj,rank=2,alpha=4}";
  t.optimizer.schedule.lr = 1e-2;
  Status s = add_training(*m, config, t);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return m;
}

TEST(JitTraining, TrainStepMatchesTheReference) {
  std::unique_ptr<Module> plain = tiny_training_module();
  std::unique_ptr<Module> optimised = tiny_training_module();
  auto report = run_pipeline(*optimised, default_pipeline());
  ASSERT_TRUE(report.ok()) << report.error().message;
  ReferenceInterpreter ref(*plain);
  CpuBackend jit(*optimised);
  for (auto& [name, t] : demo_weights(*plain, 7)) {
    ref.set_weight(name, t);
    jit.set_weight(name, t);
  }
  const HostTensor seed = HostTensor::scalar(DType::i64, 4);
  ASSERT_TRUE(ref.run("lora_init", {seed}).ok());
  auto init = jit.run("lora_init", {seed});
  ASSERT_TRUE(init.ok()) << init.error().message;
  const std::vector<std::string> params = trainable_parameters(*plain, "*.lora_a|*.lora_b");
  for (const std::string& p : params) jit.set_state(p, ref.state(p));  // same start, whatever the init kernels do

  std::vector<int64_t> tok, tgt;
  for (int64_t i = 0; i < 16; ++i) {
    tok.push_back((i * 7 + 2) % 48);
    tgt.push_back((i * 7 + 9) % 48);
  }
  const HostTensor tokens = HostTensor::from_ints(DType::i32, {2, 8}, tok);
  const HostTensor targets = HostTensor::from_ints(DType::i32, {2, 8}, tgt);
  HostTensor weights(DType::f32, {2, 8});
  for (int64_t i = 2; i < 16; ++i) weights.set(i, 1);
  for (int step = 0; step < 3; ++step) {
    auto a = ref.run("train_step", {tokens, targets, weights});
    auto b = jit.run("train_step", {tokens, targets, weights});
    ASSERT_TRUE(a.ok()) << a.error().message;
    ASSERT_TRUE(b.ok()) << b.error().message;
    EXPECT_NEAR((*a)[0].get(0), (*b)[0].get(0), 1e-4) << "loss at step " << step;
    EXPECT_NEAR((*a)[1].get(0), (*b)[1].get(0), 1e-4) << "gradient norm at step " << step;
    for (const std::string& p : params) {
      const HostTensor x = ref.state(p), y = jit.state(p);
      double worst = 0;
      for (int64_t i = 0; i < x.numel(); ++i) worst = std::max(worst, std::fabs(x.get(i) - y.get(i)));
      EXPECT_LE(worst, 1e-4) << p << " after step " << step;
    }
  }
  EXPECT_EQ(jit.state("train.step").get(0), 3);
}

}  // namespace
}  // namespace graphc
