// Training through graph-run on the real Gemma-3 270M, as a user runs it:
// a run killed with SIGKILL midway and resumed from its checkpoint gives the
// uninterrupted run's losses bit for bit (one thread), and the PEFT adapter it
// writes holds exactly the trained parameters of its last checkpoint and
// lowers the perplexity of the text it was trained on when generation's
// experiment loads it (model.adapter).
//
// Small settings keep it quick: sequences of 32 tokens of the Apache licence
// text Debian ships, 6 steps, a checkpoint every 2.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "runtime/lora_adapter.h"
#include "runtime/training_checkpoint.h"
#include "tests/test_models.h"
#include "tests/tools/tool_process.h"

namespace graphc {
namespace {

using test_support::run_tool_process;
using test_support::tool;

const char* kData = "/usr/share/common-licenses/Apache-2.0";

std::string train_command(const std::string& out) {
  return tool("graph-run") +
         " experiments/gemma3-270m-lora.yaml --set compile.threads=1 --set train.seq_len=32 --set train.steps=6"
         " --set train.checkpoint.every=2 --set train.eval.every=0 --set train.loss_chunk=32"
         " --set train.schedule.warmup_steps=1 --set train.optimizer.lr=1e-3 --set train.data.path=" +
         std::string(kData) + " --set train.output=" + out;
}

// step -> loss, from metrics.jsonl.
std::map<int64_t, double> losses(const std::string& dir) {
  std::map<int64_t, double> out;
  std::ifstream in(dir + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.contains("loss")) out[j["step"].get<int64_t>()] = j["loss"].get<double>();
  }
  return out;
}

class TrainingTool : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(test_support::gemma3_270m_gguf()))
      GTEST_SKIP() << "needs the Gemma-3 270M GGUF (scripts/fetch-weights.sh)";
    if (!std::filesystem::exists(kData)) GTEST_SKIP() << "needs " << kData;
    root_ = std::filesystem::temp_directory_path() / ("graphc-training-tool-" + std::to_string(::getpid()));
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::filesystem::path root_;
};

TEST_F(TrainingTool, KilledAndResumedRunEqualsUninterruptedRun) {
  const std::string whole = (root_ / "whole").string(), killed = (root_ / "killed").string();
  auto a = run_tool_process(train_command(whole) + " --json");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const auto reference = losses(whole);
  ASSERT_EQ(reference.size(), 6u) << a.err;

  // The second run in the background, killed once it has logged step 3 (its
  // checkpoint at step 2 is then on disk).
  const std::string pid_file = (root_ / "pid").string();
  ASSERT_EQ(std::system(("cd '" GRAPHC_SOURCE_DIR "' && (" + train_command(killed) + " >/dev/null 2>&1 & echo $! > " +
                         pid_file + ")")
                            .c_str()),
            0);
  pid_t pid = 0;
  std::ifstream(pid_file) >> pid;
  ASSERT_GT(pid, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (losses(killed).size() < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  const size_t logged = losses(killed).size();
  ASSERT_GE(logged, 3u);
  ASSERT_LT(logged, 6u) << "the run finished before it could be killed";
  ASSERT_TRUE(std::filesystem::exists(killed + "/checkpoint.safetensors"));

  auto resumed = run_tool_process(train_command(killed) + " --json");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_THAT(resumed.err, ::testing::HasSubstr("resuming from"));
  const auto continued = losses(killed);
  ASSERT_EQ(continued.size(), 6u);
  for (const auto& [step, loss] : reference) EXPECT_EQ(continued.at(step), loss) << "step " << step;  // bit for bit
  EXPECT_LT(reference.at(6), reference.at(1));
}

// graphc compiles a training experiment's step and reports it; rank 16 on
// the 7 projections of 18 layers is 3,796,992 parameters, the number PEFT
// reports for the same LoraConfig on transformers' Gemma3ForCausalLM.
TEST_F(TrainingTool, GraphcCompilesTheTrainingStep) {
  auto r = run_tool_process(tool("graphc") + " experiments/gemma3-270m-lora.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::HasSubstr("training lora (252 tensors, 3796992 parameters trainable)"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("largest arena [0-9.]+ MiB \\(lower bound"));
  auto o = run_tool_process(tool("graphc") + " experiments/gemma3-270m-lora.yaml -o " + (root_ / "art").string());
  EXPECT_NE(o.exit_code, 0);
  EXPECT_THAT(o.err, ::testing::HasSubstr("training experiments are not written as artifacts"));
}

TEST_F(TrainingTool, AdapterHoldsTheTrainedParametersUnderPeftNames) {
  const std::string out = (root_ / "run").string();
  auto r = run_tool_process(train_command(out) + " --set train.steps=2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto checkpoint = read_training_checkpoint(out + "/checkpoint.safetensors");
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.error().message;
  auto adapter = read_peft_adapter(out + "/adapter");
  ASSERT_TRUE(adapter.ok()) << adapter.error().message;
  EXPECT_EQ(adapter->rank, 16);
  EXPECT_EQ(adapter->alpha, 32);
  ASSERT_EQ(adapter->factors.size(), 18u * 7 * 2);
  std::map<std::string, const HostTensor*> state;
  for (const auto& [name, t] : checkpoint->tensors) state[name] = &t;
  int nonzero_b = 0;
  for (const auto& [name, t] : adapter->factors) {
    ASSERT_TRUE(state.count(name)) << name;
    EXPECT_EQ(t.floats(), state[name]->floats()) << name;
    if (name.ends_with(".lora_b"))
      for (float v : t.floats()) nonzero_b += v != 0.0f;
  }
  EXPECT_GT(nonzero_b, 0);  // B starts at zero; two steps moved it
  EXPECT_TRUE(std::filesystem::exists(out + "/loss.svg"));
  auto last = nlohmann::json::parse(test_support::last_line(r.out));
  EXPECT_EQ(last["task"], "train");
  EXPECT_EQ(last["last_step"], 2);

  // The adapter in use: generation's evaluate with model.adapter (folded into
  // the f32 weights by fold-lora) scores the training text better than the
  // base model does after two steps at lr 1e-3 on it.
  auto evaluate = [&](const std::string& extra) {
    auto e = run_tool_process(tool("graph-run") + " experiments/gemma3-270m-generate.yaml --json --set run.task=evaluate"
                              " --set compile.dtype=f32 --set run.window=128 --set run.text_file=" + std::string(kData) +
                              extra);
    EXPECT_EQ(e.exit_code, 0) << e.err;
    return nlohmann::json::parse(test_support::last_line(e.out))["perplexity"].get<double>();
  };
  const double base = evaluate("");
  const double adapted = evaluate(" --set model.adapter=" + out + "/adapter");
  EXPECT_LT(adapted, base);
}

}  // namespace
}  // namespace graphc
