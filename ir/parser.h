// The parser: reads the text form of docs/ir.md back into a Module.
//
// It checks syntax and names only: op kinds must be registered and every
// operand must name a value of the same function, but operand counts,
// attributes and types are the verifier's job (run verify_module() on the
// result). Result types come from the text, not from type inference. Each op,
// function and global records the line it was read from, so the verifier's
// messages point into the file.
//
// A failure is one message, "file:line:col: what was expected, found what",
// e.g. "model.graph:3:17: expected ':' after value name, found '='".
// Hostile input is rejected cleanly: regions nest at most kMaxRegionDepth
// deep, and dims and element counts of types are bounded.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "ir/module.h"
#include "ir/status.h"

namespace graphc {

inline constexpr int kMaxRegionDepth = 256;
inline constexpr int64_t kMaxDim = int64_t{1} << 40;          // largest static dim of a type
inline constexpr int64_t kMaxElements = int64_t{1} << 48;     // largest static element count

Expected<std::unique_ptr<Module>> parse_module(std::string_view text, std::string_view filename = "<input>");

}  // namespace graphc
