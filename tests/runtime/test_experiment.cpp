// Experiment files: the model and compile sections, ${VAR} expansion, and one
// positioned error for each kind of mistake.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "runtime/experiment.h"

namespace graphc {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(Experiment, TheShippedDecodeExperimentLoads) {
  setenv("GRAPHC_MODELS_DIR", "/data/models", 1);
  auto exp = load_experiment(std::string(GRAPHC_SOURCE_DIR) + "/experiments/gemma3-270m-decode.yaml");
  unsetenv("GRAPHC_MODELS_DIR");
  ASSERT_TRUE(exp.ok()) << exp.error().message;
  EXPECT_EQ(exp->model.name, "gemma3-270m");
  EXPECT_EQ(exp->model.max_context, 4096);
  EXPECT_EQ(exp->weights, "/data/models/gemma-3-270m-Q4_K_M.gguf");
  EXPECT_EQ(exp->passes, "default");
}

TEST(Experiment, PassesMayBeAList) {
  auto exp = parse_experiment("model: {preset: gemma3-1b}\ncompile:\n  passes: [cse, dce]\n", "e.yaml");
  ASSERT_TRUE(exp.ok()) << exp.error().message;
  EXPECT_EQ(exp->passes, "cse,dce");
  EXPECT_EQ(exp->model.hidden, 1152);
}

TEST(Experiment, CompileOptionsForTheJit) {
  auto exp = parse_experiment(
      "model: {preset: gemma3-270m}\ncompile:\n  dtype: f32\n  threads: 2\n  cache_dir: /tmp/c\n", "e.yaml");
  ASSERT_TRUE(exp.ok()) << exp.error().message;
  EXPECT_EQ(exp->weights_dtype, "f32");
  EXPECT_EQ(exp->threads, 2);
  EXPECT_EQ(exp->cache_dir, "/tmp/c");
  auto dtype = parse_experiment("model: {preset: gemma3-270m}\ncompile: {dtype: q4}\n", "e.yaml");
  ASSERT_FALSE(dtype.ok());
  EXPECT_THAT(dtype.error().message, StartsWith("e.yaml:2:18: compile.dtype: expected f32"));
  auto threads = parse_experiment("model: {preset: gemma3-270m}\ncompile: {threads: -1}\n", "e.yaml");
  ASSERT_FALSE(threads.ok());
  EXPECT_THAT(threads.error().message, StartsWith("e.yaml:2:20: compile.threads: expected an integer from 0"));
}

TEST(Experiment, VariablesExpandWithDefaults) {
  unsetenv("GRAPHC_TEST_UNSET");
  EXPECT_EQ(*expand_variables("${GRAPHC_TEST_UNSET:-models}/x.gguf"), "models/x.gguf");
  setenv("GRAPHC_TEST_SET", "/m", 1);
  EXPECT_EQ(*expand_variables("${GRAPHC_TEST_SET}/x"), "/m/x");
  auto missing = expand_variables("${GRAPHC_TEST_UNSET}/x");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("GRAPHC_TEST_UNSET is not set"));
}

TEST(Experiment, ErrorsNameFileLineColumnAndKey) {
  auto top = parse_experiment("model: {preset: gemma3-270m}\ncompil: {passes: cse}\n", "e.yaml");
  ASSERT_FALSE(top.ok());
  EXPECT_EQ(top.error().message, "e.yaml:2:1: unknown key 'compil' (did you mean 'compile'?) (allowed: model, compile)");
  auto nested = parse_experiment("model: {preset: gemma3-270m}\ncompile:\n  pases: cse\n", "e.yaml");
  ASSERT_FALSE(nested.ok());
  EXPECT_THAT(nested.error().message, StartsWith("e.yaml:3:3: unknown key 'compile.pases' (did you mean 'passes'?)"));
  auto model = parse_experiment("model:\n  preset: gemma3-270m\n  layers: lots\n", "e.yaml");
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.error().message, "e.yaml:3:11: model.layers: expected an integer, got 'lots'");
  auto none = parse_experiment("compile: {passes: cse}\n", "e.yaml");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().message, "e.yaml: missing key 'model'");
  auto syntax = parse_experiment("model: [unclosed\n", "e.yaml");
  ASSERT_FALSE(syntax.ok());
  EXPECT_THAT(syntax.error().message, StartsWith("e.yaml:"));
  auto file = load_experiment("/nonexistent/e.yaml");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.error().message, "/nonexistent/e.yaml: cannot open the experiment file");
}

}  // namespace
}  // namespace graphc
