// Every example of docs/experiments.md runs: each ```yaml block whose first
// line is `# example: <tool> [args]` is written to a file and run with that
// tool, as a user would; it must succeed, and graph-run --json must end with
// one JSON object holding the documented fields. Also: the same seed gives
// the same sampled text and another seed another; a prompts file gives, for
// each prompt, what that prompt gives alone.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/test_models.h"
#include "tests/tools/tool_process.h"

namespace graphc {
namespace {

using test_support::last_line;
using test_support::run_tool_process;
using test_support::tool;

struct Example {
  std::string title;
  std::string command;  // the tool and its arguments
  std::string yaml;
};

std::vector<Example> documented_examples() {
  std::ifstream in(std::string(GRAPHC_SOURCE_DIR) + "/docs/experiments.md");
  std::vector<Example> out;
  std::string line, title;
  while (std::getline(in, line)) {
    if (line.rfind("### ", 0) == 0) title = line.substr(4);
    if (line != "```yaml") continue;
    std::string yaml, first;
    std::getline(in, first);
    if (first.rfind("# example: ", 0) != 0) continue;
    yaml = first + "\n";
    while (std::getline(in, line) && line != "```") yaml += line + "\n";
    out.push_back({title, first.substr(11), yaml});
  }
  return out;
}

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream(path) << text;
  return path;
}

class DocumentedExperiments : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(test_support::gemma3_270m_gguf()))
      GTEST_SKIP() << "needs the Gemma-3 270M GGUF (scripts/fetch-weights.sh)";
  }
};

nlohmann::json json_result(const test_support::ProcessResult& r) {
  EXPECT_EQ(r.exit_code, 0) << r.err;
  try {
    return nlohmann::json::parse(last_line(r.out));
  } catch (const std::exception& e) {
    ADD_FAILURE() << "the last line of stdout is not JSON: " << last_line(r.out) << "\n" << r.err;
    return {};
  }
}

TEST_F(DocumentedExperiments, EveryExampleRuns) {
  const std::vector<Example> examples = documented_examples();
  ASSERT_GE(examples.size(), 5u) << "docs/experiments.md lost its examples";
  int n = 0;
  for (const Example& e : examples) {
    SCOPED_TRACE(e.title + ": " + e.command);
    const std::string file = write_temp("graphc-doc-example-" + std::to_string(n++) + ".yaml", e.yaml);
    const size_t space = e.command.find(' ');
    const std::string name = e.command.substr(0, space);
    const std::string args = space == std::string::npos ? "" : e.command.substr(space);
    const auto r = run_tool_process(tool(name) + " " + file + args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    if (name != "graph-run" || args.find("--json") == std::string::npos) continue;
    const nlohmann::json j = json_result(r);
    if (j.value("task", "") == "train") {
      for (const char* k : {"first_loss", "last_loss", "first_eval_loss", "last_eval_loss", "tokens_per_s",
                            "peak_rss_bytes", "arena_bytes", "output"})
        EXPECT_TRUE(j.contains(k)) << k;
      EXPECT_GT(j["last_step"].get<int64_t>(), 0);
    } else if (j.value("task", "") == "evaluate") {
      for (const char* k : {"perplexity", "bits_per_byte", "tokens", "peak_rss_bytes", "arena_bytes"})
        EXPECT_TRUE(j.contains(k)) << k;
      // A real model on English text: far better than chance (262144 tokens).
      EXPECT_GT(j["perplexity"].get<double>(), 1.0);
      EXPECT_LT(j["perplexity"].get<double>(), 100.0);
    } else {
      for (const char* k : {"task", "text", "tokens", "prefill_tokens_per_s", "decode_tokens_per_s", "peak_rss_bytes",
                            "arena_bytes"})
        EXPECT_TRUE(j.contains(k)) << k;
      EXPECT_GT(j["tokens"].get<int64_t>(), 0);
    }
  }
}

const char* kSampling = R"(model:
  preset: gemma3-270m
  max_context: 128
  weights: ${GRAPHC_MODELS_DIR:-models}/gemma-3-270m-Q4_K_M.gguf
run:
  prompt: "My favourite animal is"
  max_new_tokens: 12
  sampling: {strategy: sample, temperature: 1.0, top_k: 50, seed: 3}
)";

TEST_F(DocumentedExperiments, SameSeedSameTextOtherSeedOtherText) {
  const std::string file = write_temp("graphc-sampling.yaml", kSampling);
  auto text = [&](const std::string& extra) {
    return json_result(run_tool_process(tool("graph-run") + " " + file + " --json " + extra))["text"].get<std::string>();
  };
  const std::string a = text("");
  EXPECT_EQ(a, text(""));
  // Twelve draws from the top 50 agreeing for two seeds would mean the seed
  // is ignored.
  EXPECT_NE(a, text("--set run.sampling.seed=4"));
}

TEST_F(DocumentedExperiments, PromptsFileGivesWhatEachPromptGivesAlone) {
  const std::string prompts = write_temp("graphc-prompts.txt", "The capital of France is\nOne, two, three,\n");
  const std::string file = write_temp("graphc-greedy.yaml", R"(model:
  preset: gemma3-270m
  max_context: 128
  weights: ${GRAPHC_MODELS_DIR:-models}/gemma-3-270m-Q4_K_M.gguf
run:
  max_new_tokens: 8
)");
  const nlohmann::json batch =
      json_result(run_tool_process(tool("graph-run") + " " + file + " --json --set run.prompts_file=" + prompts));
  ASSERT_TRUE(batch.contains("texts"));
  ASSERT_EQ(batch["texts"].size(), 2u);
  const char* singles[] = {"The capital of France is", "One, two, three,"};
  for (int i = 0; i < 2; ++i) {
    const nlohmann::json one = json_result(
        run_tool_process(tool("graph-run") + " " + file + " --json '--set=run.prompt=" + singles[i] + "'"));
    EXPECT_EQ(batch["texts"][i], one["text"]) << singles[i];
  }
}

}  // namespace
}  // namespace graphc
