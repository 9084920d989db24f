// The verifier rejects each malformed program with one message that names
// the line, the op and what is wrong.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ir/builder.h"
#include "ir/parser.h"
#include "ir/printer.h"
#include "ir/verifier.h"

namespace graphc {
namespace {

// Parses (which must succeed) and returns the verifier's message, or "" if
// the module verifies.
std::string verify_text(const std::string& text) {
  Expected<std::unique_ptr<Module>> m = parse_module(text, "test.graph");
  if (!m.ok()) return "PARSE ERROR: " + m.error().message;
  Status s = verify_module(**m);
  return s.ok() ? "" : s.error().message;
}

struct Case {
  const char* what;
  const char* text;
  const char* message;
};

class VerifierRejects : public ::testing::TestWithParam<Case> {};

TEST_P(VerifierRejects, WithItsMessage) {
  EXPECT_EQ(verify_text(GetParam().text), GetParam().message) << GetParam().what;
}

const Case kCases[] = {
    {"matmul inner dims",
     "module @m\n"
     "func @f(%a: f32[4,64], %b: f32[32,8]) -> (f32[4,8]) {\n"
     "  %c = matmul %a, %b : f32[4,8]\n"
     "  return %c\n"
     "}\n",
     "line 3: matmul %c: inner dims differ: [4,64] x [32,8]"},
    {"declared type differs from the inferred one",
     "module @m\n"
     "func @f(%a: f32[4], %b: f32[4]) -> (f32[5]) {\n"
     "  %c = add %a, %b : f32[5]\n"
     "  return %c\n"
     "}\n",
     "line 3: add %c: result 0 is declared f32[5] but is f32[4]"},
    {"use before definition",
     "module @m\n"
     "func @f(%a: f32[4]) -> (f32[4]) {\n"
     "  %b = add %a, %c : f32[4]\n"
     "  %c = neg %a : f32[4]\n"
     "  return %b\n"
     "}\n",
     "line 3: add %b: operand 1 is used before it is defined or outside its scope"},
    {"unknown attribute",
     "module @m\n"
     "func @f(%a: f32[4]) -> (f32[4]) {\n"
     "  %b = neg %a {fast = true} : f32[4]\n"
     "  return %b\n"
     "}\n",
     "line 3: neg %b: unknown attribute 'fast'"},
    {"missing attribute",
     "module @m\n"
     "func @f(%a: f32[4]) -> (i32[4]) {\n"
     "  %b = cast %a : i32[4]\n"
     "  return %b\n"
     "}\n",
     "line 3: cast %b: missing attribute 'to'"},
    {"attribute of the wrong kind",
     "module @m\n"
     "func @f(%a: f32[4]) -> (i32[4]) {\n"
     "  %b = cast %a {to = 3} : i32[4]\n"
     "  return %b\n"
     "}\n",
     "line 3: cast %b: attribute 'to' must be a type, got 3"},
    {"operand count",
     "module @m\n"
     "func @f(%a: f32[4]) -> (f32[4]) {\n"
     "  %b = exp %a, %a : f32[4]\n"
     "  return %b\n"
     "}\n",
     "line 3: exp %b: takes 1 operands, has 2"},
    {"return types",
     "module @m\n"
     "func @f(%a: f32[4]) -> (f32[2]) {\n"
     "  return %a\n"
     "}\n",
     "line 3: return: returns (f32[4]) but @f declares (f32[2])"},
    {"terminator in the middle",
     "module @m\n"
     "func @f(%a: f32[4]) -> (f32[4]) {\n"
     "  return %a\n"
     "  %b = neg %a : f32[4]\n"
     "  return %b\n"
     "}\n",
     "line 3: return: return must be the last op of its block"},
    {"yield ends a function",
     "module @m\n"
     "func @f(%a: f32[4]) -> (f32[4]) {\n"
     "  yield %a\n"
     "}\n",
     "line 2: function @f: body must end with return"},
    {"loop body yields the wrong types",
     "module @m\n"
     "func @f(%n: i64[], %a: f32[]) -> (f32[]) {\n"
     "  %r = loop %n, %a : f32[] {\n"
     "  ^(%i: i64[], %x: f32[]):\n"
     "    %y = cast %i {to = f32} : f32[]\n"
     "    yield %y, %y\n"
     "  }\n"
     "  return %r\n"
     "}\n",
     "line 3: loop %r: body yields (f32[], f32[]) but the loop expects (f32[])"},
    {"value from inside a region used outside",
     "module @m\n"
     "func @f(%n: i64[], %a: f32[]) -> (f32[]) {\n"
     "  %r = loop %n, %a : f32[] {\n"
     "  ^(%i: i64[], %x: f32[]):\n"
     "    %y = neg %x : f32[]\n"
     "    yield %y\n"
     "  }\n"
     "  %z = add %r, %y : f32[]\n"
     "  return %z\n"
     "}\n",
     "line 8: add %z: operand 1 is used before it is defined or outside its scope"},
    {"symbolic dim not bound by a parameter",
     "module @m\n"
     "func @f() -> (i32[n]) {\n"
     "  %a = iota {axis = 0, dtype = i32, shape = [n]} : i32[n]\n"
     "  return %a\n"
     "}\n",
     "line 2: dim 'n' in i32[n] is not bound by a parameter of @f"},
    {"state_set of the wrong type",
     "module @m\n"
     "state @s : f32[2]\n"
     "func @f(%a: f32[3]) -> () {\n"
     "  state_set %a {name = @s}\n"
     "  return\n"
     "}\n",
     "line 4: state_set: value is f32[3] but @s is f32[2]"},
    {"unknown weight",
     "module @m\n"
     "func @f() -> (f32[2]) {\n"
     "  %w = weight {name = @nope} : f32[2]\n"
     "  return %w\n"
     "}\n",
     "line 3: weight %w: unknown weight @nope"},
    {"weight op on a state global",
     "module @m\n"
     "state @s : f32[2]\n"
     "func @f() -> (f32[2]) {\n"
     "  %w = weight {name = @s} : f32[2]\n"
     "  return %w\n"
     "}\n",
     "line 4: weight %w: @s is not a weight"},
    {"call with a wrong argument",
     "module @m\n"
     "func @g(%x: f32[n]) -> (f32[n]) {\n"
     "  return %x\n"
     "}\n"
     "func @f(%a: i32[3]) -> (f32[3]) {\n"
     "  %b = call %a {callee = @g} : f32[3]\n"
     "  return %b\n"
     "}\n",
     "line 6: call %b: argument 0 of @g is i32[3], expected f32[n]"},
    {"call of an unknown function",
     "module @m\n"
     "func @f(%a: f32[3]) -> (f32[3]) {\n"
     "  %b = call %a {callee = @missing} : f32[3]\n"
     "  return %b\n"
     "}\n",
     "line 3: call %b: unknown function @missing"},
    {"global with a symbolic shape",
     "module @m\n"
     "weight @w : f32[n]\n",
     "line 2: global @w: shape [n] must be static"},
    {"if branches disagree",
     "module @m\n"
     "func @f(%c: bool[], %a: f32[2], %b: f32[3]) -> (f32[2]) {\n"
     "  %r = if %c : f32[2] {\n"
     "  ^():\n"
     "    yield %a\n"
     "  } {\n"
     "  ^():\n"
     "    yield %b\n"
     "  }\n"
     "  return %r\n"
     "}\n",
     "line 3: if %r: then yields (f32[2]) but else yields (f32[3])"},
};

INSTANTIATE_TEST_SUITE_P(All, VerifierRejects, ::testing::ValuesIn(kCases));

TEST(Verifier, AcceptsTheDocumentationExample) {
  EXPECT_EQ(verify_text("module @m\n"
                        "func @f(%a: f32[seq,4], %b: f32[4,2]) -> (f32[seq,2]) {\n"
                        "  %c = matmul %a, %b : f32[seq,2]\n"
                        "  return %c\n"
                        "}\n"),
            "");
}

// A module built in C++ has no source lines: the verifier reports the line
// the op has in print_module()'s output, so a message and a dump agree.
TEST(Verifier, UsesPrintedLinesForModulesBuiltInCpp) {
  Module m("built");
  Builder b = Builder::function(m, "f");
  Val x = b.param(f32({2}), "x");
  Val y = b.exp(x).named("y");
  b.ret({y});
  // Corrupt the declared type behind the builder's back.
  y->set_type(f32({3}));
  Status s = verify_module(m);
  ASSERT_FALSE(s.ok());
  const std::string text = print_module(m);
  // Find the printed line holding "%y = exp".
  int line = 1, found = 0;
  for (size_t i = 0, start = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '\n') {
      if (text.substr(start, i - start).find("%y = exp") != std::string::npos) found = line;
      ++line;
      start = i + 1;
    }
  }
  ASSERT_GT(found, 0) << text;
  EXPECT_EQ(s.error().message, "line " + std::to_string(found) + ": exp %y: result 0 is declared f32[3] but is f32[2]");
}

}  // namespace
}  // namespace graphc
