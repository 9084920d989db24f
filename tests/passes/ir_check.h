// Checks for pass tests written as text: IR in, expected IR out, compared
// after renaming numbered values (%0, %7, ...) by order of appearance, so a
// test does not depend on how the printer numbers values. Named values
// (%x, %w1) must match as written.
//
//   EXPECT_TRUE(ir_matches(run_pipeline_on(input, "cse"), expected));
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "ir/parser.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "passes/ir_diff.h"
#include "passes/pass_manager.h"

namespace graphc::test_support {

// Renames %<digits> to %v0, %v1, ... in order of first appearance.
inline std::string normalize_value_numbers(std::string_view text) {
  std::map<std::string, std::string> renamed;
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (text[i] != '%') {
      out += text[i++];
      continue;
    }
    size_t j = i + 1;
    while (j < text.size() && (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '_' ||
                               text[j] == '.' || text[j] == '$' || text[j] == '-'))
      ++j;
    std::string name(text.substr(i + 1, j - i - 1));
    const bool numbered = !name.empty() && name.find_first_not_of("0123456789") == std::string::npos;
    if (numbered) {
      auto [it, inserted] = renamed.emplace(name, "v" + std::to_string(renamed.size()));
      name = it->second;
    }
    out += "%" + name;
    i = j;
  }
  return out;
}

// Parses and verifies; a failure is reported and gives null.
inline std::unique_ptr<Module> parse_ir(std::string_view text) {
  Expected<std::unique_ptr<Module>> m = parse_module(text, "test.graph");
  if (!m.ok()) {
    ADD_FAILURE() << m.error().message << "\nin:\n" << text;
    return nullptr;
  }
  Status s = verify_module(**m);
  if (!s.ok()) {
    ADD_FAILURE() << "does not verify: " << s.error().message << "\nin:\n" << text;
    return nullptr;
  }
  return std::move(*m);
}

// The text of `input` after `pipeline`, or "ERROR: <message>".
inline std::string run_pipeline_on(std::string_view input, std::string_view pipeline) {
  std::unique_ptr<Module> m = parse_ir(input);
  if (!m) return "ERROR: input does not parse";
  Expected<PipelineReport> r = run_pipeline(*m, pipeline);
  if (!r.ok()) return "ERROR: " + r.error().message;
  return print_module(*m);
}

// Whether `actual` (printed IR) equals `expected` (IR text, any layout the
// parser accepts) up to value numbering; on a mismatch, shows a diff.
inline ::testing::AssertionResult ir_matches(const std::string& actual, std::string_view expected) {
  Expected<std::unique_ptr<Module>> e = parse_module(expected, "expected.graph");
  if (!e.ok()) return ::testing::AssertionFailure() << "the expected text does not parse: " << e.error().message;
  const std::string want = normalize_value_numbers(print_module(**e));
  const std::string got = normalize_value_numbers(actual);
  if (want == got) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "IR differs from the expected text:\n"
                                       << unified_diff(want, got, "expected", "actual") << "\nactual:\n"
                                       << actual;
}

}  // namespace graphc::test_support
