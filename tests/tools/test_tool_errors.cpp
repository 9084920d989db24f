// The tools as processes on bad input: each mistake is one clear line on
// stderr naming the file, key or value, exit code 1, no stack trace, and
// nothing written.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/test_models.h"
#include "tests/tools/tool_process.h"

namespace graphc {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using test_support::run_tool_process;
using test_support::tool;

const std::string kGenerate = "experiments/gemma3-270m-generate.yaml";

// One error line: "graph-run: error: ..." and nothing else on stderr but
// progress lines.
std::string error_line(const test_support::ProcessResult& r) {
  std::string line;
  std::istringstream in(r.err);
  for (std::string l; std::getline(in, l);)
    if (l.find("error:") != std::string::npos) {
      EXPECT_TRUE(line.empty()) << "two error lines:\n" << r.err;
      line = l;
    }
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("terminate called")));
  return line;
}

class ToolErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(test_support::gemma3_270m_gguf()))
      GTEST_SKIP() << "needs the Gemma-3 270M GGUF (scripts/fetch-weights.sh)";
  }
};

TEST_F(ToolErrors, MissingWeightFile) {
  auto r = run_tool_process(tool("graph-run") + " " + kGenerate + " --set model.weights=/nonexistent/w.gguf");
  EXPECT_EQ(error_line(r), "graph-run: error: /nonexistent/w.gguf: cannot open for reading: No such file or directory");
}

TEST_F(ToolErrors, WrongWeightFile) {
  auto r = run_tool_process(tool("graph-run") + " " + kGenerate + " --set model.weights=" + kGenerate);
  EXPECT_THAT(error_line(r), HasSubstr("gemma3-270m-generate.yaml"));
}

TEST_F(ToolErrors, WeightsThatDoNotMatchTheModel) {
  auto r = run_tool_process(tool("graph-run") + " " + kGenerate + " --set model.preset=gemma3-1b");
  EXPECT_THAT(error_line(r), HasSubstr("gemma3.embedding_length is 640 but preset gemma3-1b has hidden 1152"));
}

TEST_F(ToolErrors, UnreadablePromptsFile) {
  auto r = run_tool_process(tool("graph-run") + " experiments/gemma3-270m-generate.yaml --set run.prompt= " +
                            "--set run.prompts_file=/nonexistent/prompts.txt");
  // prompt and prompts_file together are refused first; without the prompt:
  auto only_file = run_tool_process(
      "sed '/prompt:/d' " + kGenerate + " > /tmp/graphc-no-prompt.yaml && " + tool("graph-run") +
      " /tmp/graphc-no-prompt.yaml --set run.prompts_file=/nonexistent/prompts.txt");
  EXPECT_THAT(error_line(r), HasSubstr("give prompt or prompts_file, not both"));
  EXPECT_EQ(error_line(only_file),
            "graph-run: error: /nonexistent/prompts.txt: cannot read the prompts file (run.prompts_file)");
}

TEST_F(ToolErrors, EmptyPrompt) {
  auto r = run_tool_process(tool("graph-run") + " " + kGenerate + " --set run.prompt=");
  EXPECT_THAT(error_line(r), HasSubstr("run.prompt: the prompt is empty"));
}

TEST_F(ToolErrors, ContextLongerThanTheMaximum) {
  auto r = run_tool_process(tool("graph-run") + " " + kGenerate + " --set run.max_new_tokens=510");
  EXPECT_THAT(error_line(r), HasSubstr("the prompt has 6 tokens; with max_new_tokens 510 that is 516, more than the "
                                       "model's max_context 512"));
}

TEST_F(ToolErrors, UnknownKeyAndBadValue) {
  auto key = run_tool_process(tool("graph-run") + " " + kGenerate + " --set run.max_new_token=5");
  EXPECT_THAT(error_line(key), HasSubstr("unknown key 'run.max_new_token' (did you mean 'max_new_tokens'?)"));
  auto value = run_tool_process(tool("graph-run") + " " + kGenerate + " --set run.sampling.top_p=2");
  EXPECT_THAT(error_line(value), HasSubstr("run.sampling.top_p: expected a number in (0, 1], got '2'"));
  auto pass_dump = run_tool_process(tool("pass-dump") + " " + kGenerate + " --set compile.threads=-3");
  EXPECT_THAT(error_line(pass_dump), HasSubstr("compile.threads: expected an integer from 0 to 1024"));
}

TEST_F(ToolErrors, GraphcWritesNothingOnError) {
  const std::string out = "/tmp/graphc-tool-errors-artifact";
  std::filesystem::remove_all(out);
  auto r = run_tool_process(tool("graphc") + " " + kGenerate + " -o " + out + " --set model.weights=/nonexistent.gguf");
  EXPECT_THAT(error_line(r), StartsWith("graphc: error: /nonexistent.gguf"));
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace graphc
