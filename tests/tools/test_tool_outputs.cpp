// What the tools print when things go right: graphc's summary and artifact
// directory (which graph-run runs without compiling again), graph-run's
// statistics line and JSON, pass-dump on an experiment with overrides.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "tests/test_models.h"
#include "tests/tools/tool_process.h"

namespace graphc {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using test_support::last_line;
using test_support::run_tool_process;
using test_support::tool;

const std::string kGenerate = "experiments/gemma3-270m-generate.yaml";

class ToolOutputs : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(test_support::gemma3_270m_gguf()))
      GTEST_SKIP() << "needs the Gemma-3 270M GGUF (scripts/fetch-weights.sh)";
  }
};

TEST_F(ToolOutputs, GraphcSummaryAndArtifactThatGraphRunRuns) {
  const auto dir = std::filesystem::temp_directory_path() / "graphc-artifact-test";
  std::filesystem::remove_all(dir);
  auto c = run_tool_process(tool("graphc") + " " + kGenerate + " --seq 6 -o " + dir.string() +
                            " --set run.max_new_tokens=4 --set compile.cache_dir=");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_THAT(c.out, ContainsRegex("[0-9]+ functions, [0-9]+ ops -> [0-9]+ after [0-9]+ passes \\([1-9][0-9]* fused ops made\\)"));
  EXPECT_THAT(c.out, ContainsRegex("[0-9]+ kernel launches, [0-9]+ distinct kernels"));
  EXPECT_THAT(c.out, ContainsRegex("largest arena [0-9.]+ [KMG]?i?B"));
  EXPECT_THAT(c.out, ContainsRegex("compiled in [0-9.]+ s"));
  for (const char* f : {"experiment.yaml", "module.graph", "plan.json", "objects"})
    EXPECT_TRUE(std::filesystem::exists(dir / f)) << f;
  EXPECT_FALSE(std::filesystem::exists(dir / "objects.partial"));
  const nlohmann::json plan = nlohmann::json::parse(std::ifstream(dir / "plan.json"), nullptr, false);
  EXPECT_FALSE(plan.is_discarded()) << "plan.json is not JSON";
  EXPECT_TRUE(plan.is_object() || plan.is_array()) << "plan.json holds " << plan.type_name();

  // The artifact runs from its own objects: nothing is compiled again.
  auto r = run_tool_process(tool("graph-run") + " " + dir.string() + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("objects 3 cached / 0 compiled"));
  const nlohmann::json j = nlohmann::json::parse(last_line(r.out));
  EXPECT_EQ(j["tokens"], 4);
  std::filesystem::remove_all(dir);
}

TEST_F(ToolOutputs, GraphRunStatisticsLineAndJson) {
  // f32 weights: the numbers transformers ran on (the stored quantization
  // with 8-bit activations may pick another word at a close call).
  auto r = run_tool_process(tool("graph-run") + " " + kGenerate +
                            " --json --set run.max_new_tokens=5 --set compile.dtype=f32");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("The capital of France is"));
  EXPECT_THAT(r.out, ContainsRegex("prompt 6 tokens, generated 5 \\(greedy\\); prefill [0-9.]+ tokens/s, decode "
                                   "[0-9.]+ tokens/s; peak memory [0-9.]+ [KMG]iB, arena [0-9.]+ [KMG]?i?B \\(jit\\)"));
  const nlohmann::json j = nlohmann::json::parse(last_line(r.out));
  for (const char* k :
       {"task", "text", "tokens", "prefill_tokens_per_s", "decode_tokens_per_s", "peak_rss_bytes", "arena_bytes"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["task"], "generate");
  EXPECT_EQ(j["tokens"], 5);
  // The same continuation transformers gives (tests/fixtures/gemma3-270m).
  EXPECT_THAT(j["text"].get<std::string>(), StartsWith(" the capital of the country"));
  EXPECT_GT(j["peak_rss_bytes"].get<int64_t>(), 0);
  EXPECT_GT(j["arena_bytes"].get<int64_t>(), 0);
}

TEST_F(ToolOutputs, PassDumpTakesTheExperimentAndOverrides) {
  auto r = run_tool_process(tool("pass-dump") + " " + kGenerate + " --set compile.passes=cse,dce --stats --no-times" +
                            " --function decode_step --after dce");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("after dce (2/2)"));
  EXPECT_THAT(r.out, ContainsRegex("cse +[0-9]+ -> [0-9]+"));
}

}  // namespace
}  // namespace graphc
