// graph-run: runs a function of a program. Today it runs IR text (or the
// built-in demo block) on the reference interpreter; the JIT backend and YAML
// experiments join here as they land.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>

#include "backends/reference/interpreter.h"
#include "graphs/gemma3.h"
#include "graphs/transformer_block.h"
#include "runtime/gemma3_checkpoint.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "tools/tool_support.h"

namespace graphc::tools {
namespace {

// Seeded pseudo-random weights for every weight global, for programs run
// without a checkpoint.
void bind_random_weights(ReferenceInterpreter& interp, const Module& m, uint64_t seed) {
  for (auto& [name, t] : demo_weights(m, seed)) interp.set_weight(name, std::move(t));
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
  bind_random_weights(interp, *m, seed);
  HostTensor x(DType::f32, {4, 16});
  for (int64_t i = 0; i < x.numel(); ++i) x.set(i, std::sin(0.37 * double(i)));
  fmt::print("running @forward on the reference interpreter with x = {}\n", x.str(4));
  Expected<std::vector<HostTensor>> out = interp.run("forward", {x});
  if (!out.ok()) throw GraphcError(out.error().message);
  return print_results(*out, max_elements);
}

// Greedy generation with a real Gemma-3 checkpoint on the reference
// interpreter: prefill the prompt, then decode_step token by token, printing
// each piece as it comes.
int run_gemma3(const std::string& weights, const std::string& preset, const std::string& prompt,
               int max_new_tokens) {
  using Clock = std::chrono::steady_clock;
  fmt::print(stderr, "loading {}\n", weights);
  Expected<Gemma3Checkpoint> opened = Gemma3Checkpoint::open(weights);
  if (!opened.ok()) throw GraphcError(opened.error().message);
  auto checkpoint = std::make_shared<const Gemma3Checkpoint>(std::move(opened).take());
  if (!checkpoint->gguf()) throw GraphcError(weights + ": text generation needs a GGUF (it carries the tokenizer)");
  Expected<Gemma3Config> config = config_from_gguf(*checkpoint->gguf(), preset);
  if (!config.ok()) throw GraphcError(config.error().message);
  Expected<Tokenizer> tokenizer = tokenizer_from_gguf(*checkpoint->gguf());
  if (!tokenizer.ok()) throw GraphcError(tokenizer.error().message);
  if (prompt.empty()) throw GraphcError("the prompt is empty");
  std::vector<int32_t> ids = tokenizer->encode(prompt, /*add_bos=*/true);
  config->max_context = std::min<int64_t>(config->max_context, int64_t(ids.size()) + max_new_tokens);
  std::unique_ptr<Module> module = build_gemma3(*config);
  Expected<Gemma3WeightLoader> loader = gemma3_weight_loader(checkpoint, *module);
  if (!loader.ok()) throw GraphcError(loader.error().message);
  ReferenceInterpreter interp(*module);
  interp.set_weight_loader(*loader);

  auto argmax_of_row = [&](const HostTensor& logits, int64_t row) {
    const int64_t V = config->vocab;
    int64_t best = 0;
    for (int64_t v = 1; v < V; ++v)
      if (logits.get(row * V + v) > logits.get(row * V + best)) best = v;
    return static_cast<int32_t>(best);
  };
  const auto start = Clock::now();
  fmt::print(stderr, "prefill of {} tokens on the reference interpreter (slow: plain C++, the oracle)\n", ids.size());
  std::vector<int64_t> ids64(ids.begin(), ids.end());
  auto prefill = interp.run("prefill", {HostTensor::from_ints(DType::i32, {int64_t(ids.size())}, ids64)});
  if (!prefill.ok()) throw GraphcError(prefill.error().message);
  const auto prefilled = Clock::now();
  int32_t next = argmax_of_row((*prefill)[0], int64_t(ids.size()) - 1);
  fmt::print("{}", prompt);
  // Decoding the whole continuation each time keeps the spaces SentencePiece
  // attaches to pieces; print what is new.
  std::vector<int32_t> continuation;
  size_t printed = 0;
  int generated = 0;
  for (; generated < max_new_tokens && !tokenizer->is_end_of_generation(next); ++generated) {
    continuation.push_back(next);
    const std::string text = tokenizer->decode(continuation);
    if (text.size() > printed) fmt::print("{}", text.substr(printed));
    printed = std::max(printed, text.size());
    std::fflush(stdout);
    if (generated + 1 == max_new_tokens) {
      ++generated;
      break;
    }
    auto out = interp.run("decode_step", {HostTensor::scalar(DType::i32, next),
                                          HostTensor::scalar(DType::i32, double(ids.size() + generated))});
    if (!out.ok()) throw GraphcError(out.error().message);
    next = argmax_of_row((*out)[0], 0);
  }
  const auto done = Clock::now();
  const double prefill_s = std::chrono::duration<double>(prefilled - start).count();
  const double decode_s = std::chrono::duration<double>(done - prefilled).count();
  fmt::print("\n\nprompt {} tokens, generated {} (greedy); prefill {:.1f} tokens/s, decode {:.2f} tokens/s "
             "(reference interpreter)\n",
             ids.size(), generated, ids.size() / prefill_s, generated / std::max(decode_s, 1e-9));
  return 0;
}

int graph_run_main(int argc, char** argv) {
  CLI::App app{"graph-run: runs a graphc program (an IR file, the built-in demo, or Gemma-3 from a GGUF) on the reference interpreter"};
  app.set_version_flag("--version", std::string("graph-run ") + kVersion);
  std::string input, function;
  std::vector<std::string> args;
  bool demo = false;
  uint64_t seed = 0;
  bool random_weights = false;
  int64_t max_elements = 16;
  app.add_option("input", input, "IR text file (.graph)");
  app.add_flag("--demo", demo, "build the built-in one-layer transformer block, print its IR and run it");
  app.add_option("-f,--function", function, "function to run (default: the first)");
  app.add_option("-a,--arg", args, "an argument, e.g. f32[2,2]=1,2,3,4 or i64[]=10 (repeat, in order)");
  app.add_flag("--random-weights", random_weights, "bind every weight to seeded pseudo-random values");
  app.add_option("--seed", seed, "seed for --random-weights and --demo");
  app.add_option("--max-elements", max_elements, "print at most this many elements per result");
  std::string gguf, preset = "gemma3-270m", prompt = "The capital of France is";
  int max_new_tokens = 16;
  app.add_option("--gguf", gguf, "a Gemma-3 GGUF checkpoint: generate text from --prompt");
  app.add_option("--preset", preset, "the Gemma-3 size of --gguf")->capture_default_str();
  app.add_option("--prompt", prompt, "the prompt for --gguf")->capture_default_str();
  app.add_option("--max-new-tokens", max_new_tokens, "tokens to generate with --gguf")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  CLI11_PARSE(app, argc, argv);

  if (demo) return run_demo(seed, max_elements);
  if (!gguf.empty()) return run_gemma3(gguf, preset, prompt, max_new_tokens);
  if (input.empty()) throw GraphcError("no input: give an IR file or --demo (see --help)");

  Expected<std::unique_ptr<Module>> m = load_module(input);
  if (!m.ok()) throw GraphcError(m.error().message);
  const Module& module = **m;
  if (module.functions().empty()) throw GraphcError(input + ": module has no functions");
  if (function.empty()) function = module.functions().front()->name();
  ReferenceInterpreter interp(module);
  if (random_weights) bind_random_weights(interp, module, seed);
  std::vector<HostTensor> inputs;
  for (const std::string& a : args) {
    Expected<HostTensor> t = parse_tensor_literal(a);
    if (!t.ok()) throw GraphcError(t.error().message);
    inputs.push_back(std::move(t).take());
  }
  Expected<std::vector<HostTensor>> out = interp.run(function, inputs);
  if (!out.ok()) throw GraphcError(input + ": " + out.error().message);
  return print_results(*out, max_elements);
}

}  // namespace
}  // namespace graphc::tools

int main(int argc, char** argv) {
  return graphc::tools::run_tool("graph-run", graphc::tools::graph_run_main, argc, argv);
}
