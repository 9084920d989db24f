// The printer: a module as text in the form docs/ir.md describes, which
// parse_module() reads back to a module that prints the same, byte for byte.
//
//   func @f(%x: f32[seq,4]) -> (f32[seq,4]) {
//     %0 = tanh %x : f32[seq,4]
//     return %0
//   }
//
// Output is deterministic: values are named from their hints or numbered in
// print order, attributes are sorted, globals print before functions. Since a
// module built in C++ has no source lines, print_module_with_locations() also
// says on which line each op was printed and what each value was called, so
// that the verifier's messages and a dump agree.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "ir/module.h"

namespace graphc {

struct PrintOptions {
  // Float attributes, and the integer `value` of a `constant`, with more
  // elements than this print as `<elided N floats>` / `<elided N integers>`.
  // Such text is for reading, not for parsing back. -1: never elide.
  int64_t max_constant_elements = -1;
};

struct PrintedModule {
  std::string text;
  std::unordered_map<const Op*, int> line_of_op;              // 1-based
  std::unordered_map<const Value*, std::string> name_of_value;  // without the '%'
  std::unordered_map<const Function*, int> line_of_function;   // the `func` line
  std::unordered_map<std::string, int> line_of_global;         // by global name
};

std::string print_module(const Module& module, const PrintOptions& options = {});
PrintedModule print_module_with_locations(const Module& module, const PrintOptions& options = {});

// One function, as it would appear in its module (line numbers in the result
// count from the function's own first line).
std::string print_function(const Function& function, const PrintOptions& options = {});
PrintedModule print_function_with_locations(const Function& function, const PrintOptions& options = {});

// "f32[seq,4]", with symbolic dims spelled as the parser accepts them.
std::string print_type(const TensorType& type);

}  // namespace graphc
