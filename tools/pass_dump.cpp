// pass-dump: shows the IR between passes. Today there is one stage, the
// verified input; the pass pipeline adds a stage per pass.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "ir/printer.h"
#include "tools/tool_support.h"

namespace graphc::tools {
namespace {

int pass_dump_main(int argc, char** argv) {
  CLI::App app{"pass-dump: prints a program's IR between compiler passes"};
  app.set_version_flag("--version", std::string("pass-dump ") + kVersion);
  std::string input;
  int64_t elide = 16;
  app.add_option("input", input, "IR text file (.graph)")->required();
  app.add_option("--elide-constants", elide, "print at most this many elements of a constant (-1: all)");
  CLI11_PARSE(app, argc, argv);

  Expected<std::unique_ptr<Module>> m = load_module(input);
  if (!m.ok()) throw GraphcError(m.error().message);
  fmt::print("// ----- stage 0: input (verified) -----\n{}",
             print_module(**m, PrintOptions{.max_constant_elements = elide}));
  return 0;
}

}  // namespace
}  // namespace graphc::tools

int main(int argc, char** argv) {
  return graphc::tools::run_tool("pass-dump", graphc::tools::pass_dump_main, argc, argv);
}
