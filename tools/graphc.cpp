// graphc: compiles a program. Today it reads IR text, verifies it and writes
// the module to an artifact directory; the pass pipeline, the memory plan and
// the JIT join here as they land.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>

#include "ir/op.h"
#include "ir/printer.h"
#include "runtime/mapped_file.h"
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

int graphc_main(int argc, char** argv) {
  CLI::App app{"graphc: the graphc compiler (IR text in, verified artifact out)"};
  app.set_version_flag("--version", std::string("graphc ") + kVersion);
  std::string input, output;
  bool print_ir = false;
  int64_t elide = 16;
  app.add_option("input", input, "IR text file (.graph)")->required();
  app.add_option("-o,--output", output, "artifact directory to write (module.graph)");
  app.add_flag("--print-ir", print_ir, "print the verified IR to stdout");
  app.add_option("--elide-constants", elide, "print at most this many elements of a constant (-1: all)");
  CLI11_PARSE(app, argc, argv);

  Expected<std::unique_ptr<Module>> m = load_module(input);
  if (!m.ok()) throw GraphcError(m.error().message);
  const Module& module = **m;
  if (print_ir) fmt::print("{}", print_module(module, PrintOptions{.max_constant_elements = elide}));

  int ops = 0;
  for (const auto& f : module.functions()) ops += op_count(*f->body());
  fmt::print("graphc: {}: module @{}: {} functions, {} globals, {} ops, verified\n", input, module.name(),
             module.functions().size(), module.globals().size(), ops);
  if (!output.empty()) {
    std::filesystem::create_directories(output);
    const std::string path = (std::filesystem::path(output) / "module.graph").string();
    Status s = write_file_atomically(path, print_module(module));
    s.throw_if_error();
    fmt::print("graphc: wrote {}\n", path);
  }
  return 0;
}

}  // namespace
}  // namespace graphc::tools

int main(int argc, char** argv) { return graphc::tools::run_tool("graphc", graphc::tools::graphc_main, argc, argv); }
