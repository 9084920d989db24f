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
  EXPECT_THAT(dtype.error().message, StartsWith("e.yaml:2:18: compile.dtype: expected one of stored, f32, got 'q4'"));
  auto threads = parse_experiment("model: {preset: gemma3-270m}\ncompile: {threads: -1}\n", "e.yaml");
  ASSERT_FALSE(threads.ok());
  EXPECT_THAT(threads.error().message, StartsWith("e.yaml:2:20: compile.threads: expected an integer from 0"));
}

TEST(Experiment, RunSectionForGeneration) {
  auto exp = parse_experiment(R"(model: {preset: gemma3-270m}
run:
  task: generate
  prompt: "Once upon a time"
  chat: true
  max_new_tokens: 32
  sampling: {strategy: sample, temperature: 0.7, top_k: 40, top_p: 0.9, repetition_penalty: 1.1, seed: 7}
)",
                              "e.yaml");
  ASSERT_TRUE(exp.ok()) << exp.error().message;
  EXPECT_EQ(exp->run.prompt, "Once upon a time");
  EXPECT_TRUE(exp->run.chat);
  EXPECT_EQ(exp->run.max_new_tokens, 32);
  EXPECT_EQ(exp->run.sampling.strategy, "sample");
  EXPECT_DOUBLE_EQ(exp->run.sampling.temperature, 0.7);
  EXPECT_EQ(exp->run.sampling.top_k, 40);
  EXPECT_DOUBLE_EQ(exp->run.sampling.top_p, 0.9);
  EXPECT_EQ(exp->run.sampling.seed, 7u);
}

TEST(Experiment, TrainSectionIsCheckedLikeTheRest) {
  auto parse = [](const std::string& train) {
    return parse_experiment("model: {preset: gemma3-270m}\nrun: {task: train}\ntrain:\n" + train, "e.yaml");
  };
  auto e = parse("  data: {path: corpus.txt}\n  lora: {targets: [layer.*.q_proj, layer.*.v_proj], rank: 8}\n"
                 "  optimizer: {lr: 1e-3}\n  schedule: {kind: cosine, warmup_steps: 5}\n  steps: 20\n");
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(e->train.lora_targets, "layer.*.q_proj|layer.*.v_proj");
  EXPECT_EQ(e->train.lora_rank, 8);
  EXPECT_EQ(e->train.lr, 1e-3);
  EXPECT_EQ(e->train.schedule, "cosine");
  EXPECT_EQ(e->train.steps, 20);
  auto bad = [&](const std::string& train) {
    auto r = parse(train);
    return r.ok() ? std::string("accepted") : r.error().message;
  };
  EXPECT_THAT(bad("  steps: 20\n"), HasSubstr("train.data.path: training needs a text file or directory"));
  EXPECT_THAT(bad("  data: {path: c.txt}\n  optimizer: {lr: 0}\n"),
              HasSubstr("e.yaml:5:19: train.optimizer.lr: expected a number in (0, 10], got '0'"));
  EXPECT_THAT(bad("  data: {path: c.txt}\n  lora: {rnk: 4}\n"), HasSubstr("did you mean 'rank'?"));
  EXPECT_THAT(bad("  data: {path: c.txt}\n  schedule: {kind: cosine_restarts}\n"),
              HasSubstr("restart_every: cosine_restarts needs the cycle length"));
}

TEST(Experiment, RunValuesOutOfRangeAreErrors) {
  auto bad = [](const std::string& run) {
    auto e = parse_experiment("model: {preset: gemma3-270m}\nrun:\n" + run, "e.yaml");
    return e.ok() ? std::string("accepted") : e.error().message;
  };
  EXPECT_EQ(bad("  sampling: {top_p: 1.5}\n"),
            "e.yaml:3:21: run.sampling.top_p: expected a number in (0, 1], got '1.5'");
  EXPECT_EQ(bad("  sampling: {temperature: 0}\n"),
            "e.yaml:3:27: run.sampling.temperature: expected a number in (0, 100], got '0'");
  EXPECT_EQ(bad("  max_new_tokens: 0\n"), "e.yaml:3:19: run.max_new_tokens: expected an integer from 1 to 4096, got '0'");
  EXPECT_EQ(bad("  task: fly\n"), "e.yaml:3:9: run.task: expected one of generate, evaluate, train, got 'fly'");
  EXPECT_EQ(bad("  task: train\n"), "e.yaml: run.task is train but there is no train section");
  EXPECT_EQ(bad("  sampling: {stratgy: greedy}\n"),
            "e.yaml:3:14: unknown key 'run.sampling.stratgy' (did you mean 'strategy'?) (allowed: strategy, "
            "temperature, top_k, top_p, repetition_penalty, seed)");
  EXPECT_THAT(bad("  prompt: a\n  prompts_file: b.txt\n"), HasSubstr("run: give prompt or prompts_file, not both"));
  EXPECT_THAT(bad("  task: evaluate\n"), HasSubstr("run.text_file: the evaluate task needs the text to score"));
}

TEST(Experiment, CommandLineOverridesAreValidatedLikeTheFile) {
  auto exp = parse_experiment("model: {preset: gemma3-270m}\nrun: {prompt: a}\n", "e.yaml",
                              {"run.prompt=Hello there", "run.sampling.seed=42", "compile.threads=1"});
  ASSERT_TRUE(exp.ok()) << exp.error().message;
  EXPECT_EQ(exp->run.prompt, "Hello there");
  EXPECT_EQ(exp->run.sampling.seed, 42u);
  EXPECT_EQ(exp->threads, 1);
  auto bad = parse_experiment("model: {preset: gemma3-270m}\n", "e.yaml", {"run.max_new_tokens=lots"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "e.yaml (--set): run.max_new_tokens: expected an integer from 1 to 4096, got 'lots'");
  auto unknown = parse_experiment("model: {preset: gemma3-270m}\n", "e.yaml", {"run.promt=x"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.error().message, HasSubstr("unknown key 'run.promt' (did you mean 'prompt'?)"));
  auto malformed = parse_experiment("model: {preset: gemma3-270m}\n", "e.yaml", {"run.prompt"});
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.error().message, "--set run.prompt: expected key.path=value");
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
  EXPECT_EQ(top.error().message, "e.yaml:2:1: unknown key 'compil' (did you mean 'compile'?) (allowed: model, compile, run, train)");
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
