// graph-run: runs a program. An experiment (.yaml) runs its task (generate,
// evaluate or train) on Gemma-3, compiled by the JIT; `--gguf` is the same with the
// experiment given by flags; an IR file (or the built-in demo block) runs one
// function.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "backends/cpu/cpu_backend.h"
#include "backends/reference/interpreter.h"
#include "graphs/transformer_block.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "runtime/human_bytes.h"
#include "tools/model_session.h"
#include "tools/train_session.h"
#include "tools/tool_support.h"

namespace graphc::tools {
namespace {

int64_t peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return int64_t(u.ru_maxrss) * 1024;  // Linux reports KiB
}

int print_results(const std::vector<HostTensor>& results, int64_t max_elements) {
  for (size_t i = 0; i < results.size(); ++i) fmt::print("result {}: {}\n", i, results[i].str(max_elements));
  return 0;
}

int run_demo(uint64_t seed, int64_t max_elements) {
  std::unique_ptr<Module> m = build_transformer_block();
  verify_module(*m).throw_if_error();
  fmt::print("{}\n", print_module(*m));
  ReferenceInterpreter interp(*m);
  for (auto& [name, t] : demo_weights(*m, seed)) interp.set_weight(name, std::move(t));
  HostTensor x(DType::f32, {4, 16});
  for (int64_t i = 0; i < x.numel(); ++i) x.set(i, std::sin(0.37 * double(i)));
  fmt::print("running @forward on the reference interpreter with x = {}\n", x.str(4));
  Expected<std::vector<HostTensor>> out = interp.run("forward", {x});
  if (!out.ok()) throw GraphcError(out.error().message);
  return print_results(*out, max_elements);
}

std::vector<std::string> read_prompts(const Experiment& exp) {
  if (exp.run.prompts_file.empty()) {
    if (exp.run.prompt.empty()) throw GraphcError(exp.file + ": run.prompt: the prompt is empty (give run.prompt or run.prompts_file)");
    return {exp.run.prompt};
  }
  std::ifstream in(exp.run.prompts_file);
  if (!in) throw GraphcError(exp.run.prompts_file + ": cannot read the prompts file (run.prompts_file)");
  std::vector<std::string> prompts;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) prompts.push_back(line);
  if (prompts.empty()) throw GraphcError(exp.run.prompts_file + ": the prompts file has no prompt (one per line)");
  return prompts;
}

int run_generate(ModelSession& session, const Experiment& exp, bool json) {
  const std::vector<std::string> prompts = read_prompts(exp);
  // Every prompt is checked before any work, so a bad one fails fast.
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto ids = session.encode_prompt(prompts[i]);
    if (!ids.ok())
      throw GraphcError(fmt::format("{}: prompt {}: {}", exp.run.prompts_file.empty() ? exp.file : exp.run.prompts_file,
                                    i + 1, ids.error().message));
  }
  nlohmann::json texts = nlohmann::json::array();
  int64_t prompt_tokens = 0, generated = 0;
  double prefill_s = 0, decode_s = 0;
  int64_t decode_tokens = 0;
  // Text streams as it is produced; prompts follow one another.
  size_t current = size_t(-1), printed = 0;
  auto results = session.generate_all(prompts, exp.run.sampling.seed, [&](size_t i, const std::string& text) {
    if (i != current) {
      if (current != size_t(-1)) fmt::print("\n");
      if (prompts.size() > 1) fmt::print("--- prompt {} of {}\n", i + 1, prompts.size());
      fmt::print("{}", prompts[i]);
      current = i;
      printed = 0;
    }
    if (text.size() > printed) fmt::print("{}", text.substr(printed));
    printed = std::max(printed, text.size());
    std::fflush(stdout);
  });
  if (!results.ok()) throw GraphcError(results.error().message);
  fmt::print("\n");
  for (const GenerationResult& r : *results) {
    texts.push_back(r.text);
    prompt_tokens += r.prompt_tokens;
    generated += int64_t(r.tokens.size());
    prefill_s += r.prefill_seconds;
    decode_s += r.decode_seconds;
    decode_tokens += std::max<int64_t>(int64_t(r.tokens.size()) - 1, 0);
  }
  const double prefill_tps = prefill_s > 0 ? prompt_tokens / prefill_s : 0;
  const double decode_tps = decode_s > 0 ? decode_tokens / decode_s : 0;
  fmt::print("\nprompt {} tokens, generated {} ({}); prefill {:.1f} tokens/s, decode {:.1f} tokens/s; "
             "peak memory {}, arena {} ({})\n",
             prompt_tokens, generated, exp.run.sampling.strategy, prefill_tps, decode_tps, human_bytes(peak_rss_bytes()),
             human_bytes(session.arena_bytes()), session.backend_name());
  if (json) {
    nlohmann::json j{{"task", "generate"},
                     {"backend", session.backend_name()},
                     {"prompt_tokens", prompt_tokens},
                     {"tokens", generated},
                     {"prefill_tokens_per_s", prefill_tps},
                     {"decode_tokens_per_s", decode_tps},
                     {"peak_rss_bytes", peak_rss_bytes()},
                     {"arena_bytes", session.arena_bytes()}};
    if (texts.size() == 1) j["text"] = texts[0];
    else j["texts"] = texts;
    fmt::print("{}\n", j.dump());
  }
  return 0;
}

int run_evaluate(ModelSession& session, const Experiment& exp, bool json) {
  std::ifstream in(exp.run.text_file, std::ios::binary);
  if (!in) throw GraphcError(exp.run.text_file + ": cannot read the text to evaluate (run.text_file)");
  std::stringstream text;
  text << in.rdbuf();
  const auto start = std::chrono::steady_clock::now();
  auto r = session.evaluate(text.str());
  if (!r.ok()) throw GraphcError(exp.run.text_file + ": " + r.error().message);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("{}: {} tokens ({} bytes) in {} windows: perplexity {:.3f}, {:.4f} bits per byte; {:.1f} tokens/s; "
             "peak memory {}, arena {} ({})\n",
             exp.run.text_file, r->tokens, r->bytes, r->windows, r->perplexity(), r->bits_per_byte(), r->tokens / s,
             human_bytes(peak_rss_bytes()), human_bytes(session.arena_bytes()), session.backend_name());
  if (json) {
    nlohmann::json j{{"task", "evaluate"},          {"backend", session.backend_name()},
                     {"tokens", r->tokens},         {"bytes", r->bytes},
                     {"windows", r->windows},       {"perplexity", r->perplexity()},
                     {"bits_per_byte", r->bits_per_byte()}, {"tokens_per_s", r->tokens / s},
                     {"peak_rss_bytes", peak_rss_bytes()}, {"arena_bytes", session.arena_bytes()}};
    fmt::print("{}\n", j.dump());
  }
  return 0;
}

int run_train(const Experiment& exp, bool json, bool profile) {
  TrainCallbacks callbacks;
  callbacks.profile = profile;
  auto r = run_training(exp, callbacks);
  if (!r.ok()) throw GraphcError(r.error().message);
  auto eval = [](double v) { return std::isnan(v) ? std::string("-") : fmt::format("{:.4f}", v); };
  fmt::print("trained steps {}..{}: loss {} -> {}, held-out loss {} -> {} (perplexity {} -> {}); "
             "{:.0f} tokens/s; peak memory {}, train_step arena {} (lower bound {}); output in {}\n",
             r->first_step, r->last_step, eval(r->first_loss), eval(r->last_loss), eval(r->first_eval_loss),
             eval(r->last_eval_loss), eval(std::exp(r->first_eval_loss)), eval(std::exp(r->last_eval_loss)),
             r->tokens_per_s, human_bytes(peak_rss_bytes()), human_bytes(r->arena_bytes),
             human_bytes(r->lower_bound_bytes), r->output_dir);
  if (json) {
    auto number = [](double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); };
    nlohmann::json j{{"task", "train"},
                     {"first_step", r->first_step},
                     {"last_step", r->last_step},
                     {"first_loss", number(r->first_loss)},
                     {"last_loss", number(r->last_loss)},
                     {"first_eval_loss", number(r->first_eval_loss)},
                     {"last_eval_loss", number(r->last_eval_loss)},
                     {"tokens_per_s", r->tokens_per_s},
                     {"peak_rss_bytes", peak_rss_bytes()},
                     {"arena_bytes", r->arena_bytes},
                     {"lower_bound_bytes", r->lower_bound_bytes},
                     {"output", r->output_dir}};
    fmt::print("{}\n", j.dump());
  }
  return 0;
}

int run_experiment(const Experiment& exp, const SessionOptions& options, bool json) {
  if (exp.run.task == "train") {
    if (options.backend != "jit") throw GraphcError("training runs on the jit backend");
    return run_train(exp, json, options.profile);
  }
  auto session = ModelSession::open(exp, options);
  if (!session.ok()) throw GraphcError(session.error().message);
  const int rc = exp.run.task == "evaluate" ? run_evaluate(**session, exp, json) : run_generate(**session, exp, json);
  if (options.profile) fmt::print(stderr, "\nkernel profile:\n{}", (*session)->profile_report());
  return rc;
}

int graph_run_main(int argc, char** argv) {
  CLI::App app{"graph-run: runs an experiment (.yaml), Gemma-3 from a GGUF (--gguf), an IR file or the demo"};
  app.set_version_flag("--version", std::string("graph-run ") + kVersion);
  std::string input, function, backend = "jit";
  std::vector<std::string> args, overrides;
  bool demo = false, json = false, random_weights = false, profile = false;
  uint64_t seed = 0;
  int64_t max_elements = 16;
  app.add_option("input", input, "an experiment (.yaml), an artifact directory (graphc -o) or an IR text file (.graph)");
  app.add_option("--set", overrides, "override an experiment key: --set run.max_new_tokens=32 (repeatable)");
  app.add_flag("--json", json, "end with one line of JSON: the task's results and statistics");
  app.add_flag("--profile", profile, "time every JIT kernel and print where the time went (stderr)");
  app.add_option("--backend", backend, "jit (compiled kernels) or reference (the interpreter)")
      ->capture_default_str()
      ->check(CLI::IsMember({"jit", "reference"}));
  app.add_flag("--demo", demo, "build the built-in one-layer transformer block, print its IR and run it");
  app.add_option("-f,--function", function, "IR file: the function to run (default: the first)");
  app.add_option("-a,--arg", args, "IR file: an argument, e.g. f32[2,2]=1,2,3,4 or i64[]=10 (repeat, in order)");
  app.add_flag("--random-weights", random_weights, "IR file: bind every weight to seeded pseudo-random values");
  app.add_option("--seed", seed, "seed for --random-weights and --demo");
  app.add_option("--max-elements", max_elements, "IR file: print at most this many elements per result");
  std::string gguf, preset = "gemma3-270m", prompt = "The capital of France is";
  int64_t max_new_tokens = 16;
  app.add_option("--gguf", gguf, "a Gemma-3 GGUF checkpoint: generate text from --prompt (greedy)");
  app.add_option("--preset", preset, "the Gemma-3 size of --gguf")->capture_default_str();
  app.add_option("--prompt", prompt, "the prompt for --gguf")->capture_default_str();
  app.add_option("--max-new-tokens", max_new_tokens, "tokens to generate with --gguf")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(1), int64_t(4096)));
  CLI11_PARSE(app, argc, argv);

  if (demo) return run_demo(seed, max_elements);
  if (!gguf.empty()) {
    std::string yaml = fmt::format("model: {{preset: {}}}\nrun: {{max_new_tokens: {}}}\n", preset, max_new_tokens);
    std::vector<std::string> all = {"model.weights=" + gguf, "run.prompt=" + prompt};
    all.insert(all.end(), overrides.begin(), overrides.end());
    auto exp = parse_experiment(yaml, "--gguf", all);
    if (!exp.ok()) throw GraphcError(exp.error().message);
    return run_experiment(*exp, SessionOptions{backend, profile}, json);
  }
  if (input.empty()) throw GraphcError("no input: give an experiment (.yaml), --gguf, an IR file or --demo (see --help)");
  if (input.ends_with(".yaml") || input.ends_with(".yml")) {
    auto exp = load_experiment(input, overrides);
    if (!exp.ok()) throw GraphcError(exp.error().message);
    return run_experiment(*exp, SessionOptions{backend, profile}, json);
  }
  if (std::filesystem::is_directory(input)) {
    // An artifact of `graphc EXP.yaml -o DIR`: its experiment, its objects.
    const auto dir = std::filesystem::path(input);
    if (!std::filesystem::exists(dir / "experiment.yaml"))
      throw GraphcError(input + ": not a graphc artifact (no experiment.yaml; make one with graphc EXP.yaml -o DIR)");
    auto exp = load_experiment((dir / "experiment.yaml").string(), overrides);
    if (!exp.ok()) throw GraphcError(exp.error().message);
    exp->cache_dir = (dir / "objects").string();
    return run_experiment(*exp, SessionOptions{backend, profile}, json);
  }

  Expected<std::unique_ptr<Module>> m = load_module(input);
  if (!m.ok()) throw GraphcError(m.error().message);
  const Module& module = **m;
  if (module.functions().empty()) throw GraphcError(input + ": module has no functions");
  if (function.empty()) function = module.functions().front()->name();
  std::vector<HostTensor> inputs;
  for (const std::string& a : args) {
    Expected<HostTensor> t = parse_tensor_literal(a);
    if (!t.ok()) throw GraphcError(t.error().message);
    inputs.push_back(std::move(t).take());
  }
  // IR files run on the reference interpreter unless --backend jit is given
  // explicitly: it runs every op, the JIT the ops it has kernels for.
  const bool jit = app.count("--backend") > 0 && backend == "jit";
  Expected<std::vector<HostTensor>> out = Error{""};
  if (jit) {
    CpuBackend cpu(module);
    if (random_weights)
      for (auto& [name, t] : demo_weights(module, seed)) cpu.set_weight(name, t);
    out = cpu.run(function, inputs);
  } else {
    ReferenceInterpreter interp(module);
    if (random_weights)
      for (auto& [name, t] : demo_weights(module, seed)) interp.set_weight(name, std::move(t));
    out = interp.run(function, inputs);
  }
  if (!out.ok()) throw GraphcError(input + ": " + out.error().message);
  return print_results(*out, max_elements);
}

}  // namespace
}  // namespace graphc::tools

int main(int argc, char** argv) {
  return graphc::tools::run_tool("graph-run", graphc::tools::graph_run_main, argc, argv);
}
