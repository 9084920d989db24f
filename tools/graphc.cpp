// graphc: compiles a program. IR text is read, verified and written to an
// artifact directory; an experiment (.yaml) builds its model, runs its pass
// pipeline and compiles every function to JIT kernels (through the object
// cache), then prints what that produced and cost.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ir/op.h"
#include "ir/printer.h"
#include "runtime/experiment.h"
#include "runtime/mapped_file.h"
#include "runtime/human_bytes.h"
#include "tools/model_session.h"
#include "tools/train_session.h"
#include "tools/tool_support.h"

namespace graphc::tools {
namespace {

int op_count(const Block& b) {
  int n = 0;
  for (const auto& op : b.ops()) {
    ++n;
    for (const auto& r : op->regions()) n += op_count(*r);
  }
  return n;
}

void write_artifact(const std::string& dir, const std::string& file, const std::string& text) {
  std::filesystem::create_directories(dir);
  const std::string path = (std::filesystem::path(dir) / file).string();
  write_file_atomically(path, text).throw_if_error();
  fmt::print("graphc: wrote {}\n", path);
}

// An experiment: its model through its pipeline, every function compiled.
// With an output directory the artifact holds the experiment as compiled
// (overrides applied), the optimised IR, the memory plans and the compiled
// objects (the directory is the object cache), so `graph-run DIR` runs it
// without compiling again.
int compile_experiment(const std::string& path, const std::vector<std::string>& overrides, const std::string& output,
                       int64_t seq) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  Expected<Experiment> exp = load_experiment(path, overrides);
  if (!exp.ok()) throw GraphcError(exp.error().message);
  std::string resolved;
  if (!output.empty()) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    auto r = experiment_with_overrides(text.str(), path, overrides);
    if (!r.ok()) throw GraphcError(r.error().message);
    resolved = *r;
    // The artifact's own object cache; written only after a successful compile.
    exp->cache_dir = (std::filesystem::path(output) / "objects.partial").string();
    std::filesystem::remove_all(exp->cache_dir);
  }
  if (exp->run.task == "train") {
    if (!output.empty())
      throw GraphcError(path + ": -o: training experiments are not written as artifacts; graph-run trains from the "
                               "experiment (and reuses the object cache this compile fills)");
    auto t = compile_training(*exp);
    if (!t.ok()) throw GraphcError(t.error().message);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    fmt::print("graphc: {}: training {} ({} tensors, {} parameters trainable)\n", path, exp->train.mode,
               t->trainable_tensors, t->trainable_parameters);
    fmt::print("graphc: {} programs (@train_step, @train_grads, @eval_loss), {} kernel launches, {} distinct kernels; "
               "JIT objects: {} from the cache, {} compiled; largest arena {} (lower bound {})\n",
               t->programs, t->kernel_launches, t->distinct_kernels, t->cache_hits, t->cache_misses,
               human_bytes(t->arena_bytes), human_bytes(t->lower_bound_bytes));
    fmt::print("graphc: compiled in {:.2f} s (JIT {:.2f} s)\n", seconds, t->jit_seconds);
    return 0;
  }
  auto session = ModelSession::open(*exp, SessionOptions{});
  if (!session.ok()) throw GraphcError(session.error().message);
  if (Status s = (*session)->compile_all({{"seq", seq}, {"batch", 1}}); !s.ok())
    throw GraphcError(path + ": " + s.error().message);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const CompileSummary st = (*session)->summary();
  fmt::print("graphc: {}: {} functions, {} ops -> {} after {} passes ({} fused ops made)\n", path, st.functions,
             st.ops_before, st.ops_after, st.passes, st.ops_fused);
  fmt::print("graphc: {} programs (seq {}), {} kernel launches, {} distinct kernels; JIT objects: {} from the cache, "
             "{} compiled; largest arena {} (lower bound {})\n",
             st.programs, seq, st.kernel_launches, st.distinct_kernels, st.cache_hits, st.cache_misses,
             human_bytes(st.arena_bytes), human_bytes(st.lower_bound_bytes));
  fmt::print("graphc: weights {} mapped in place, {} converted; compiled in {:.2f} s (JIT {:.2f} s)\n",
             human_bytes(st.weights_mapped_bytes), human_bytes(st.weights_copied_bytes), seconds, st.jit_seconds);
  if (!output.empty()) {
    write_artifact(output, "experiment.yaml", resolved);
    write_artifact(output, "module.graph", (*session)->optimized_ir());
    write_artifact(output, "plan.json", (*session)->plans_json());
    const auto objects = std::filesystem::path(output) / "objects";
    std::filesystem::remove_all(objects);
    std::filesystem::rename(exp->cache_dir, objects);
    fmt::print("graphc: wrote {}\n", objects.string());
  }
  return 0;
}

int graphc_main(int argc, char** argv) {
  CLI::App app{"graphc: the graphc compiler (IR text or an experiment in, compiled artifact out)"};
  app.set_version_flag("--version", std::string("graphc ") + kVersion);
  std::string input, output;
  bool print_ir = false;
  int64_t elide = 16;
  int64_t seq = 128;
  std::vector<std::string> overrides;
  app.add_option("--set", overrides, "override an experiment key: --set compile.dtype=f32 (repeatable)");
  app.add_option("input", input, "IR text file (.graph) or experiment (.yaml)")->required();
  app.add_option("--seq", seq, "for an experiment: the sequence length functions with a symbolic one are compiled for")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  app.add_option("-o,--output", output, "artifact directory to write (module.graph)");
  app.add_flag("--print-ir", print_ir, "print the verified IR to stdout");
  app.add_option("--elide-constants", elide, "print at most this many elements of a constant (-1: all)");
  CLI11_PARSE(app, argc, argv);
  if (input.ends_with(".yaml") || input.ends_with(".yml")) return compile_experiment(input, overrides, output, seq);

  Expected<std::unique_ptr<Module>> m = load_module(input);
  if (!m.ok()) throw GraphcError(m.error().message);
  const Module& module = **m;
  if (print_ir) fmt::print("{}", print_module(module, PrintOptions{.max_constant_elements = elide}));

  int ops = 0;
  for (const auto& f : module.functions()) ops += op_count(*f->body());
  fmt::print("graphc: {}: module @{}: {} functions, {} globals, {} ops, verified\n", input, module.name(),
             module.functions().size(), module.globals().size(), ops);
  if (!output.empty()) write_artifact(output, "module.graph", print_module(module));
  return 0;
}

}  // namespace
}  // namespace graphc::tools

int main(int argc, char** argv) { return graphc::tools::run_tool("graphc", graphc::tools::graphc_main, argc, argv); }
