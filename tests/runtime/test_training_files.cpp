// Training checkpoints and PEFT adapter directories: round trips, PEFT's
// names for Gemma-3 projections, and errors naming the file and entry.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "runtime/lora_adapter.h"
#include "runtime/training_checkpoint.h"
#include "tests/test_temp_dir.h"

namespace graphc {
namespace {

const bool kCleanup = test_support::remove_scratch_dir_at_exit("graphc-training-files-");

// A fresh directory per test inside the binary's scratch directory.
struct TestDir {
  std::string dir;
  TestDir() {
    static int n = 0;
    dir = (test_support::scratch_dir("graphc-training-files-") / std::to_string(n++)).string();
    std::filesystem::create_directories(dir);
  }
  const std::string& path() const { return dir; }
};

HostTensor ramp(std::vector<int64_t> shape, float from) {
  HostTensor t(DType::f32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, from + 0.25f * float(i));
  return t;
}

TEST(TrainingCheckpoint, RoundTripsTensorsAndMetadataExactly) {
  TestDir dir;
  TrainingCheckpoint c;
  c.tensors = {{"layer.0.q_proj.lora_a", ramp({2, 3}, -1)}, {"layer.0.q_proj.lora_a.adam_m", ramp({2, 3}, 1e-7f)}};
  c.metadata = {{"step", "120"}, {"data_position", "240"}};
  const std::string path = dir.path() + "/checkpoint.safetensors";
  ASSERT_TRUE(write_training_checkpoint(path, c).ok());
  auto back = read_training_checkpoint(path);
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->tensors.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(back->tensors[i].first, c.tensors[i].first);
    EXPECT_EQ(back->tensors[i].second.floats(), c.tensors[i].second.floats());  // bit for bit
    EXPECT_EQ(back->tensors[i].second.shape(), c.tensors[i].second.shape());
  }
  EXPECT_EQ(*back->integer("step"), 120);
  EXPECT_EQ(*back->integer("data_position"), 240);
  auto missing = back->integer("seed");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("no 'seed'"), std::string::npos);
  // Nothing but the checkpoint is left in the directory (no temporary file).
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

TEST(LoraAdapter, PeftNamesForGemma3Projections) {
  EXPECT_EQ(*peft_tensor_name("layer.0.q_proj.lora_a"), "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
  EXPECT_EQ(*peft_tensor_name("layer.17.down_proj.lora_b"), "base_model.model.model.layers.17.mlp.down_proj.lora_B.weight");
  EXPECT_EQ(*graph_state_name_from_peft("base_model.model.model.layers.3.mlp.up_proj.lora_B.weight"),
            "layer.3.up_proj.lora_b");
  EXPECT_FALSE(peft_tensor_name("layer.0.q_proj").ok());
  EXPECT_FALSE(graph_state_name_from_peft("base_model.model.model.layers.0.self_attn.rotary.lora_A.weight").ok());
}

TEST(LoraAdapter, DirectoryRoundTripAndConfig) {
  TestDir dir;
  LoraAdapter a;
  a.rank = 2;
  a.alpha = 4;
  a.factors = {{"layer.1.v_proj.lora_a", ramp({2, 5}, 0)}, {"layer.1.v_proj.lora_b", ramp({3, 2}, 1)}};
  const std::string out = dir.path() + "/adapter";
  ASSERT_TRUE(write_peft_adapter(out, a).ok());
  std::ifstream config(out + "/adapter_config.json");
  std::string text((std::istreambuf_iterator<char>(config)), {});
  EXPECT_NE(text.find("\"peft_type\": \"LORA\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"v_proj\""), std::string::npos) << text;
  auto back = read_peft_adapter(out);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->rank, 2);
  EXPECT_EQ(back->alpha, 4);
  ASSERT_EQ(back->factors.size(), 2u);
  EXPECT_EQ(back->factors[0].first, "layer.1.v_proj.lora_a");
  EXPECT_EQ(back->factors[0].second.floats(), a.factors[0].second.floats());
}

TEST(LoraAdapter, NonLoraConfigIsRefusedNamingTheFile) {
  TestDir dir;
  std::filesystem::create_directories(dir.path() + "/a");
  std::ofstream(dir.path() + "/a/adapter_config.json") << R"({"peft_type": "IA3", "r": 4, "lora_alpha": 8})";
  auto r = read_peft_adapter(dir.path() + "/a");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("adapter_config.json: peft_type"), std::string::npos) << r.error().message;
  std::ofstream(dir.path() + "/a/adapter_config.json")
      << R"({"peft_type": "LORA", "r": 4, "lora_alpha": 8, "rank_pattern": {"q_proj": 8}})";
  r = read_peft_adapter(dir.path() + "/a");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("rank_pattern is set"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace graphc
