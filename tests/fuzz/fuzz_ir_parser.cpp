// Fuzzes the IR text form on arbitrary bytes: parsing must either fail with
// one message or yield a module whose printed text parses back to a module
// that prints the same, with every op read back on the line it was printed on.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>
#include <vector>

#include "ir/parser.h"
#include "ir/printer.h"

namespace {

std::vector<const graphc::Op*> ops_in_order(const graphc::Module& m) {
  std::vector<const graphc::Op*> out;
  for (const auto& f : m.functions()) graphc::walk(f->body(), [&](graphc::Op* op) { out.push_back(op); });
  return out;
}

[[noreturn]] void fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz_ir: %s\n%.*s\n", what, static_cast<int>(detail.size()), detail.data());
  __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto first = graphc::parse_module(text, "fuzz.graph");
  if (!first.ok()) {
    if (first.error().message.rfind("fuzz.graph", 0) != 0) fail("error without a location", first.error().message);
    return 0;
  }
  const graphc::PrintedModule printed = graphc::print_module_with_locations(**first);
  auto second = graphc::parse_module(printed.text, "printed.graph");
  if (!second.ok()) fail("printed text does not parse", second.error().message + "\n" + printed.text);
  const std::string again = graphc::print_module(**second);
  if (again != printed.text) fail("round trip differs", printed.text + "\n----- printed again -----\n" + again);

  const std::vector<const graphc::Op*> ops1 = ops_in_order(**first), ops2 = ops_in_order(**second);
  if (ops1.size() != ops2.size()) fail("op count differs", printed.text);
  for (size_t i = 0; i < ops1.size(); ++i)
    if (printed.line_of_op.at(ops1[i]) != ops2[i]->line()) fail("op line differs", printed.text);

  (void)graphc::print_module(**first, graphc::PrintOptions{.max_constant_elements = 2});
  return 0;
}
