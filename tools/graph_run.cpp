// graph-run: runs a function of a program. Today it runs IR text (or the
// built-in demo block) on the reference interpreter; the JIT backend and YAML
// experiments join here as they land.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "backends/reference/interpreter.h"
#include "graphs/transformer_block.h"
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

int graph_run_main(int argc, char** argv) {
  CLI::App app{"graph-run: runs a graphc program on the reference interpreter"};
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
  CLI11_PARSE(app, argc, argv);

  if (demo) return run_demo(seed, max_elements);
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
