// The text form round-trips: print(parse(print(m))) == print(m), byte for
// byte, for every op kind, the documentation's example and a transformer
// block; each parse error is one message with its file:line:col.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "ir/builder.h"
#include "ir/op_registry.h"
#include "ir/parser.h"
#include "ir/printer.h"
#include "ir/verifier.h"

namespace graphc {
namespace {

std::string read_source_file(const std::string& relative) {
  std::ifstream in(std::string(GRAPHC_SOURCE_DIR) + "/" + relative, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Parses text that must parse; null (and a test failure) otherwise.
std::unique_ptr<Module> parse_ok(const std::string& text) {
  Expected<std::unique_ptr<Module>> m = parse_module(text, "test.graph");
  if (!m.ok()) {
    ADD_FAILURE() << m.error().message << "\nin:\n" << text;
    return nullptr;
  }
  return std::move(*m);
}

// The parse error of text that must not parse.
std::string parse_error(const std::string& text) {
  Expected<std::unique_ptr<Module>> m = parse_module(text, "test.graph");
  return m.ok() ? "PARSED" : m.error().message;
}

// Checks print(parse(print(m))) == print(m) and returns print(m). With
// `verify`, the module read back must verify as well.
std::string expect_round_trip(const Module& m, bool verify = true) {
  const std::string once = print_module(m);
  std::unique_ptr<Module> again = parse_ok(once);
  if (!again) return once;
  EXPECT_EQ(print_module(*again), once);
  if (verify) {
    Status s = verify_module(*again);
    EXPECT_TRUE(s.ok()) << s.error().message << "\nin:\n" << once;
  }
  return once;
}

// ---- one case per op kind ----------------------------------------------------

// Each case adds a function @f (and whatever it needs) that uses the op.
using OpCase = std::function<void(Module&)>;

Val unary(Builder& b, const std::string& kind) { return b.op1(kind, {b.param(f32({sym("seq"), 4}), "x")}); }
Val binary(Builder& b, const std::string& kind) {
  return b.op1(kind, {b.param(f32({sym("seq"), 4}), "x"), b.param(f32({4}), "y")});
}

OpCase unary_case(const std::string& kind) {
  return [kind](Module& m) {
    Builder b = Builder::function(m, "f");
    b.ret({unary(b, kind)});
  };
}
OpCase binary_case(const std::string& kind) {
  return [kind](Module& m) {
    Builder b = Builder::function(m, "f");
    b.ret({binary(b, kind)});
  };
}

const std::map<std::string, OpCase>& op_cases() {
  static const std::map<std::string, OpCase> cases = [] {
    std::map<std::string, OpCase> c;
    for (const char* k : {"neg", "abs", "exp", "log", "tanh", "sqrt", "rsqrt", "sin", "cos"}) c[k] = unary_case(k);
    for (const char* k : {"add", "sub", "mul", "div", "max", "min", "pow"}) c[k] = binary_case(k);
    c["compare"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      b.ret({b.compare(b.param(f32({3}), "a"), "le", b.param(f32({3}), "b"))});
    };
    c["select"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      Val a = b.param(f32({3}), "a");
      b.ret({b.select(b.compare(a, "gt", b.scalar(0.0)), a, b.scalar(-1e30))});
    };
    c["cast"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      b.ret({b.cast(b.param(f32({sym("n")}), "a"), DType::i32)});
    };
    c["reshape"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      b.ret({b.reshape(b.param(f32({sym("seq"), 6}), "x"), {sym("seq"), 2, -1})});
    };
    c["transpose"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      b.ret({b.transpose(b.param(f32({2, 3, 4}), "x"), {2, 0, 1})});
    };
    c["broadcast"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      Val x = b.param(f32({sym("seq"), 4}), "x");
      b.ret({b.broadcast(b.param(f32({4}), "y"), {sym("seq"), 4}), x});
    };
    c["slice"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      b.ret({b.slice(b.param(f32({8, 6}), "x"), {1, 0}, {7, 6}, {2, 3})});
    };
    c["concat"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      b.ret({b.concat({b.param(f32({2, 3})), b.param(f32({5, 3}))}, 0)});
    };
    c["dynamic_slice"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      Val x = b.param(f32({8, 6}), "x");
      b.ret({b.dynamic_slice(x, {b.param(i64({}), "r"), b.param(i64({}), "c")}, {2, 6})});
    };
    c["dynamic_update_slice"] = [](Module& m) {
      Builder b = Builder::function(m, "cache");
      Val x = b.param(f32({8, 6}), "x");
      Val u = b.param(f32({1, 6}), "row");
      Val p = b.param(i64({}), "pos");
      b.ret({b.dynamic_update_slice(x, u, {p, b.scalar(0, DType::i64)})});
    };
    c["gather"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      b.ret({b.gather(b.param(f32({10, 4}), "table"), b.param(i32({sym("seq")}), "ids"), 0)});
    };
    c["scatter_add"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      Val grad = b.param(f32({10, 4}), "grad");
      b.ret({b.scatter_add(grad, b.param(i32({sym("seq")}), "ids"), b.param(f32({sym("seq"), 4}), "rows"))});
    };
    c["reduce"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      Val x = b.param(f32({sym("seq"), 4}), "x");
      b.ret({b.mean(x, {-1}, true), b.reduce(x, "max", {0})});
    };
    c["matmul"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      b.ret({b.matmul(b.param(f32({sym("seq"), 4}), "x"), b.param(f32({8, 4}), "w"), false, true)});
    };
    c["softmax"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      b.ret({b.softmax(b.param(f32({2, sym("seq")}), "x"), -1)});
    };
    c["argmax"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      b.ret({b.argmax(b.param(f32({2, 5}), "x"), 1)});
    };
    c["topk"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      auto [values, indices] = b.topk(b.param(f32({2, 5}), "x"), 3);
      b.ret({values, indices});
    };
    c["cumsum"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      b.ret({b.cumsum(b.param(f32({2, 5}), "x"), 1)});
    };
    c["constant"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      b.ret({b.constant(0.5, f32({2, 2})), b.constant(-3, i32({3})), b.scalar(7, DType::i64)});
    };
    c["iota"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      Val x = b.param(f32({sym("seq")}), "x");
      b.ret({x, b.iota({sym("seq"), 4}, 1), b.iota({3}, 0, DType::i64)});
    };
    c["random_uniform"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      auto [values, next_seed] = b.random_uniform(b.param(i64({}), "seed"), {2, 3});
      b.ret({values, next_seed});
    };
    const OpCase control_flow = [](Module& m) {
      Builder g = Builder::function(m, "double");
      Val gx = g.param(f32({sym("n")}), "x");
      g.ret({gx + gx});
      Builder b = Builder::function(m, "f");
      Val n = b.param(i64({}), "n");
      Val x = b.param(f32({3}), "x");
      Val flag = b.param(boolean({}), "flag");
      std::vector<Val> r = b.loop(
          n, {x, b.scalar(0, DType::i64)},
          [&](Builder& body, Val i, const std::vector<Val>& carried) -> std::vector<Val> {
            Val next = body.call("double", {carried[0]})[0];
            Val stop = body.compare(i, "ge", body.scalar(3, DType::i64));
            return {stop, next, carried[1] + i};
          },
          /*has_exit=*/true);
      std::vector<Val> chosen = b.if_(
          flag, [&](Builder& then) -> std::vector<Val> { return {then.neg(r[0])}; },
          [&](Builder&) -> std::vector<Val> { return {x}; });
      b.ret({chosen[0], r[1]});
    };
    for (const char* k : {"loop", "if", "call", "return", "yield"}) c[k] = control_flow;
    const OpCase globals = [](Module& m) {
      m.add_global(GlobalKind::Weight, "layers.0.wq", f32({4, 4}));
      m.add_global(GlobalKind::State, "step", i64({}));
      Builder b = Builder::function(m, "f");
      Val step = b.state_get("step");
      b.state_set("step", step + b.scalar(1, DType::i64));
      b.ret({b.weight("layers.0.wq")});
    };
    for (const char* k : {"weight", "state_get", "state_set"}) c[k] = globals;
    c["emit"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      Val x = b.param(i32({}), "token");
      b.ret({b.op1("emit", {x}, {{"channel", "token"}})});
    };
    c["rms_norm"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      Val x = b.param(f32({sym("seq"), 8}), "x");
      b.ret({b.op1("rms_norm", {x, b.param(f32({8}), "w")}, {{"eps", 1e-6}})});
    };
    c["rope"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      Val x = b.param(f32({2, sym("seq"), 8}), "x");
      b.ret({b.op1("rope", {x, b.param(f32({sym("seq"), 4}), "cos"), b.param(f32({sym("seq"), 4}), "sin")})});
    };
    c["attention"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      Val q = b.param(f32({4, sym("seq"), 8}), "q");
      Val k = b.param(f32({2, sym("seq"), 8}), "k");
      Val v = b.param(f32({2, sym("seq"), 8}), "v");
      Val mask = b.compare(b.iota({sym("seq"), sym("seq")}, 1), "le", b.iota({sym("seq"), sym("seq")}, 0));
      b.ret({b.op1("attention", {q, k, v, mask}, {{"scale", 0.125}})});
    };
    c["geglu"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      Val h = b.param(f32({sym("seq"), 8}), "h");
      b.ret({b.op1("geglu", {h, b.param(f32({16, 8}), "w_gate"), b.param(f32({16, 8}), "w_up")})});
    };
    // The builder makes no ops with regions other than loop and if: built by
    // hand, typed by the op's own inference.
    c["fused_elementwise"] = [](Module& m) {
      Builder b = Builder::function(m, "f");
      Val x = b.param(f32({sym("seq"), 4}), "x");
      Val y = b.param(f32({4}), "y");
      const OpDef& def = OpRegistry::instance().get("fused_elementwise");
      Op* op = b.block()->insert(std::make_unique<Op>(&def, std::vector<Value*>{x, y}));
      Builder body(m, op->add_region());
      Val a = body.wrap(body.block()->add_arg(f32({})));
      Val c = body.wrap(body.block()->add_arg(f32({})));
      body.op("yield", {body.tanh(a * c + body.scalar(1.0))});
      Expected<std::vector<TensorType>> types = def.infer(*op);
      if (!types.ok()) throw GraphcError(types.error().message);
      for (TensorType& t : *types) op->add_result(std::move(t));
      b.ret({b.wrap(op->result(0))});
    };
    return c;
  }();
  return cases;
}

bool module_uses(const Module& m, const std::string& kind) {
  bool found = false;
  for (const auto& f : m.functions()) walk(f->body(), [&](Op* op) { found |= op->name() == kind; });
  return found;
}

TEST(TextForm, EveryRegisteredOpKindRoundTrips) {
  for (const OpDef* def : OpRegistry::instance().all()) {
    SCOPED_TRACE("op " + def->name);
    auto it = op_cases().find(def->name);
    if (it == op_cases().end()) {
      ADD_FAILURE() << "no round-trip case for op '" << def->name << "': add one to op_cases()";
      continue;
    }
    Module m("op_" + def->name);
    try {
      it->second(m);
    } catch (const GraphcError& e) {
      ADD_FAILURE() << "building the case failed: " << e.what();
      continue;
    }
    ASSERT_TRUE(module_uses(m, def->name)) << print_module(m);
    expect_round_trip(m);
  }
}

TEST(TextForm, ControlFlowPrintsRegionsIndentedAndNumbered) {
  Module m("flow");
  op_cases().at("loop")(m);
  EXPECT_EQ(print_module(m),
            "module @flow\n"
            "\n"
            "func @double(%x: f32[n]) -> (f32[n]) {\n"
            "  %0 = add %x, %x : f32[n]\n"
            "  return %0\n"
            "}\n"
            "\n"
            "func @f(%n: i64[], %x: f32[3], %flag: bool[]) -> (f32[3], i64[]) {\n"
            "  %0 = constant {dtype = i64, shape = [], value = 0} : i64[]\n"
            "  %1, %2 = loop %n, %x, %0 {has_exit = true} : f32[3], i64[] {\n"
            "  ^(%i: i64[], %3: f32[3], %4: i64[]):\n"
            "    %5 = call %3 {callee = @double} : f32[3]\n"
            "    %6 = constant {dtype = i64, shape = [], value = 3} : i64[]\n"
            "    %7 = compare %i, %6 {predicate = \"ge\"} : bool[]\n"
            "    %8 = add %4, %i : i64[]\n"
            "    yield %7, %5, %8\n"
            "  }\n"
            "  %9 = if %flag : f32[3] {\n"
            "  ^():\n"
            "    %10 = neg %1 : f32[3]\n"
            "    yield %10\n"
            "  } {\n"
            "  ^():\n"
            "    yield %x\n"
            "  }\n"
            "  return %9, %2\n"
            "}\n");
  expect_round_trip(m);
}

// ---- the documentation's example ---------------------------------------------

// The first ``` block after "## Example" in docs/ir.md.
std::string documentation_example() {
  const std::string doc = read_source_file("docs/ir.md");
  const size_t section = doc.find("## Example");
  const size_t open = doc.find("```\n", section);
  const size_t close = doc.find("```", open + 4);
  if (section == std::string::npos || open == std::string::npos || close == std::string::npos) return "";
  return doc.substr(open + 4, close - open - 4);
}

TEST(TextForm, TheDocumentationExamplePrintsBackByteForByte) {
  const std::string example = documentation_example();
  ASSERT_FALSE(example.empty()) << "no example found in docs/ir.md";
  std::unique_ptr<Module> m = parse_ok(example);
  ASSERT_TRUE(m);
  EXPECT_EQ(print_module(*m), example);
  expect_round_trip(*m);

  // Lines are recorded from the source, and they are where the printer puts them.
  const PrintedModule printed = print_module_with_locations(*m);
  for (const auto& f : m->functions()) {
    EXPECT_EQ(printed.line_of_function.at(f.get()), f->line());
    walk(f->body(), [&](Op* op) { EXPECT_EQ(printed.line_of_op.at(op), op->line()) << op->name(); });
  }
  for (const Global& g : m->globals()) EXPECT_EQ(printed.line_of_global.at(g.name), g.line);
  EXPECT_EQ(m->function("forward")->line(), 7);
  EXPECT_EQ(m->global("calls")->line, 5);
}

TEST(TextForm, TheExampleFileRoundTrips) {
  std::unique_ptr<Module> m = parse_ok(read_source_file("docs/examples/mlp_and_loop.graph"));
  ASSERT_TRUE(m);
  expect_round_trip(*m);
}

// ---- a transformer block written with the builder ------------------------------

// Gemma's RMSNorm: x * rsqrt(mean(x^2) + eps) * (1 + w).
Val rms_norm(Builder& b, Val x, Val w) {
  Val inv = b.rsqrt(b.mean(x * x, {-1}, true) + b.scalar(1e-6));
  return x * inv * (b.scalar(1.0) + w);
}

std::unique_ptr<Module> transformer_block() {
  const int64_t d = 8, heads = 2, head_dim = 4, ffn = 16;
  const Dim seq = sym("seq");
  auto m = std::make_unique<Module>("block");
  for (auto [name, shape] : std::vector<std::pair<const char*, Shape>>{
           {"layers.0.attn_norm", {d}},
           {"layers.0.wq", {d, d}},
           {"layers.0.wk", {d, d}},
           {"layers.0.wv", {d, d}},
           {"layers.0.wo", {d, d}},
           {"layers.0.ffn_norm", {d}},
           {"layers.0.w_gate", {ffn, d}},
           {"layers.0.w_up", {ffn, d}},
           {"layers.0.w_down", {d, ffn}}})
    m->add_global(GlobalKind::Weight, name, TensorType(DType::f32, shape));

  Builder b = Builder::function(*m, "forward");
  Val x = b.param(TensorType(DType::f32, {seq, d}), "x");
  Val h = rms_norm(b, x, b.weight("layers.0.attn_norm")).named("h");
  auto split_heads = [&](Val proj) { return b.transpose(b.reshape(proj, {seq, heads, head_dim}), {1, 0, 2}); };
  Val q = split_heads(b.matmul(h, b.weight("layers.0.wq"), false, true)).named("q");
  Val k = split_heads(b.matmul(h, b.weight("layers.0.wk"), false, true)).named("k");
  Val v = split_heads(b.matmul(h, b.weight("layers.0.wv"), false, true)).named("v");
  Val scores = b.matmul(q, k, false, true) * b.scalar(0.5);
  Val causal = b.compare(b.iota({seq, seq}, 1), "le", b.iota({seq, seq}, 0)).named("causal");
  Val probs = b.softmax(b.select(causal, scores, b.scalar(-1e30)), -1).named("probs");
  Val mixed = b.reshape(b.transpose(b.matmul(probs, v), {1, 0, 2}), {seq, heads * head_dim});
  Val x1 = (x + b.matmul(mixed, b.weight("layers.0.wo"), false, true)).named("x1");

  Val h2 = rms_norm(b, x1, b.weight("layers.0.ffn_norm"));
  Val gate = b.matmul(h2, b.weight("layers.0.w_gate"), false, true);
  Val gelu = b.scalar(0.5) * gate *
             (b.scalar(1.0) + b.tanh(b.scalar(0.7978845608028654) * (gate + b.scalar(0.044715) * gate * gate * gate)));
  Val up = b.matmul(h2, b.weight("layers.0.w_up"), false, true);
  Val out = (x1 + b.matmul(gelu * up, b.weight("layers.0.w_down"), false, true)).named("out");
  b.ret({out});
  return m;
}

TEST(TextForm, ATransformerBlockRoundTripsByteForByte) {
  std::unique_ptr<Module> m;
  try {
    m = transformer_block();
  } catch (const GraphcError& e) {
    FAIL() << "building the block failed: " << e.what();
  }
  const std::string text = expect_round_trip(*m);
  EXPECT_NE(text.find("  %q = transpose "), std::string::npos) << text;
  EXPECT_NE(text.find("  %probs = softmax %"), std::string::npos) << text;
  EXPECT_NE(text.find("{name = @layers.0.w_down}"), std::string::npos) << text;
  EXPECT_NE(text.find("value = 1e-06"), std::string::npos) << text;

  // Every op's reported line is the line it was printed on.
  const PrintedModule printed = print_module_with_locations(*m);
  std::vector<std::string> lines{""};
  for (char c : printed.text) {
    if (c == '\n') lines.emplace_back();
    else lines.back().push_back(c);
  }
  walk(m->function("forward")->body(), [&](Op* op) {
    const int line = printed.line_of_op.at(op);
    ASSERT_LT(line, static_cast<int>(lines.size()));
    std::string head = op->num_results() ? "%" + printed.name_of_value.at(op->result(0)) + " = " + op->name() + " "
                                         : op->name();
    EXPECT_NE(lines[line - 1].find(head), std::string::npos) << lines[line - 1];
  });
}

// ---- attributes ----------------------------------------------------------------

// Attributes on a `return`: the parser checks syntax, not signatures.
TEST(TextForm, AttributeEdgeCases) {
  Module m("attrs");
  Function* f = m.add_function("f");
  AttrMap attrs{{"negative", int64_t{-5}},
                {"min", std::numeric_limits<int64_t>::min()},
                {"eps", 1e-06},
                {"whole", 2.0},
                {"minus_zero", -0.0},
                {"tiny", 5e-324},
                {"big", 1e300},
                {"pos_inf", std::numeric_limits<double>::infinity()},
                {"neg_inf", -std::numeric_limits<double>::infinity()},
                {"not_a_number", std::nan("")},
                {"text", std::string("say \"hi\"\\\n\tand\x01\x7f")},
                {"empty_text", std::string()},
                {"callee", SymbolRef{"layers.0.attn$norm-v2"}},
                {"no_dims", std::vector<int64_t>{}},
                {"dims", std::vector<Dim>{sym("seq"), 4, -1}},
                {"floats", std::vector<double>{1.0, -2.5, 1e-06}},
                {"no_floats", std::vector<double>{}},
                {"to", DType::bf16},
                {"yes", true},
                {"no", false}};
  f->body()->insert(std::make_unique<Op>(&OpRegistry::instance().get("return"), std::vector<Value*>{}, attrs));
  const std::string text = expect_round_trip(m, /*verify=*/false);
  EXPECT_EQ(text,
            "module @attrs\n"
            "\n"
            "func @f() -> () {\n"
            "  return {big = 1e+300, callee = @layers.0.attn$norm-v2, dims = [seq, 4, -1], empty_text = \"\", "
            "eps = 1e-06, floats = [1.0, -2.5, 1e-06], min = -9223372036854775808, minus_zero = -0.0, "
            "neg_inf = -inf, negative = -5, no = false, no_dims = [], no_floats = [], not_a_number = nan, "
            "pos_inf = inf, text = \"say \\\"hi\\\"\\\\\\n\\tand\\x01\x7f\", tiny = 5e-324, to = bf16, whole = 2.0, "
            "yes = true}\n"
            "}\n");

  std::unique_ptr<Module> back = parse_ok(text);
  ASSERT_TRUE(back);
  const Op& op = *back->function("f")->body()->ops()[0];
  EXPECT_EQ(op.attr("text").as_string(), "say \"hi\"\\\n\tand\x01\x7f");
  EXPECT_EQ(op.attr("min").as_int(), std::numeric_limits<int64_t>::min());
  EXPECT_TRUE(std::signbit(op.attr("minus_zero").as_float()));
  EXPECT_TRUE(std::isnan(op.attr("not_a_number").as_float()));
  EXPECT_EQ(op.attr("tiny").as_float(), 5e-324);
  EXPECT_EQ(op.attr("floats").kind(), AttrKind::Floats);
  EXPECT_EQ(op.attr("dims").as_dims(), (std::vector<Dim>{sym("seq"), 4, -1}));
  EXPECT_EQ(op.attr("callee").as_symbol(), "layers.0.attn$norm-v2");
  EXPECT_EQ(op.attr("to").as_type(), DType::bf16);
  // An empty list reads back as an empty integer list (it prints the same).
  EXPECT_EQ(op.attr("no_floats").kind(), AttrKind::Dims);
}

TEST(TextForm, ListsWithAnyFloatAreFloatLists) {
  std::unique_ptr<Module> m = parse_ok(
      "module @m\n"
      "func @f() -> () {\n"
      "  return {a = [1, 2.5], b = [1, 2], c = [inf, -inf, nan], d = [1e3], e = [seq, 2]}\n"
      "}\n");
  ASSERT_TRUE(m);
  const Op& op = *m->function("f")->body()->ops()[0];
  EXPECT_EQ(op.attr("a").as_floats(), (std::vector<double>{1.0, 2.5}));
  EXPECT_EQ(op.attr("b").as_ints(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(op.attr("c").kind(), AttrKind::Floats);
  EXPECT_EQ(op.attr("d").as_floats(), (std::vector<double>{1000.0}));
  EXPECT_EQ(op.attr("e").as_dims(), (std::vector<Dim>{sym("seq"), 2}));
  EXPECT_EQ(print_module(*m),
            "module @m\n"
            "\n"
            "func @f() -> () {\n"
            "  return {a = [1.0, 2.5], b = [1, 2], c = [inf, -inf, nan], d = [1000.0], e = [seq, 2]}\n"
            "}\n");
}

TEST(TextForm, SymbolicDimsInTypes) {
  Module m("dims");
  Builder b = Builder::function(m, "f");
  Val x = b.param(f32({sym("batch"), sym("seq_len"), 64}), "x");
  b.ret({b.exp(x)});
  EXPECT_EQ(expect_round_trip(m),
            "module @dims\n"
            "\n"
            "func @f(%x: f32[batch,seq_len,64]) -> (f32[batch,seq_len,64]) {\n"
            "  %0 = exp %x : f32[batch,seq_len,64]\n"
            "  return %0\n"
            "}\n");
}

// ---- names -------------------------------------------------------------------

TEST(TextForm, NumericAndClashingHintsGetSuffixes) {
  Module m("names");
  Builder b = Builder::function(m, "f");
  Val x = b.param(f32({2}), "x");
  Val x_again = b.param(f32({2}), "x");
  Val seven = b.param(f32({2}), "7");
  Val unnamed = b.param(f32({2}));
  Val sum = (x + x_again).named("x_1");
  Val spaced = (sum + seven).named("a b");
  b.ret({spaced * unnamed});
  Builder g = Builder::function(m, "g");
  g.ret({g.neg(g.param(f32({2}), "x"))});

  const std::string text = expect_round_trip(m);
  EXPECT_EQ(text,
            "module @names\n"
            "\n"
            "func @f(%x: f32[2], %x_1: f32[2], %7_1: f32[2], %0: f32[2]) -> (f32[2]) {\n"
            "  %x_1_1 = add %x, %x_1 : f32[2]\n"
            "  %a_b = add %x_1_1, %7_1 : f32[2]\n"
            "  %1 = mul %a_b, %0 : f32[2]\n"
            "  return %1\n"
            "}\n"
            "\n"
            "func @g(%x: f32[2]) -> (f32[2]) {\n"
            "  %0 = neg %x : f32[2]\n"
            "  return %0\n"
            "}\n");

  // Numeric names are positions, not hints; the rest are kept.
  std::unique_ptr<Module> back = parse_ok(text);
  ASSERT_TRUE(back);
  Function* f = back->function("f");
  EXPECT_EQ(f->param(0)->name(), "x");
  EXPECT_EQ(f->param(2)->name(), "7_1");
  EXPECT_EQ(f->param(3)->name(), "");
  EXPECT_EQ(f->body()->ops()[2]->result(0)->name(), "");
  const PrintedModule printed = print_module_with_locations(*back);
  EXPECT_EQ(printed.name_of_value.at(f->param(3)), "0");
  EXPECT_EQ(printed.line_of_op.at(f->body()->ops()[2].get()), 6);
}

// A use before the definition, or outside the defining region, parses (the
// verifier rejects it with the line) and prints with the definition's name.
TEST(TextForm, UsesBeforeDefinitionsKeepTheirNames) {
  const std::string text =
      "module @m\n"
      "\n"
      "func @f(%n: i64[], %a: f32[]) -> (f32[]) {\n"
      "  %0 = add %a, %late : f32[]\n"
      "  %1 = loop %n, %0 : f32[] {\n"
      "  ^(%i: i64[], %2: f32[]):\n"
      "    %inner = neg %2 : f32[]\n"
      "    yield %inner\n"
      "  }\n"
      "  %late = add %1, %inner : f32[]\n"
      "  return %late\n"
      "}\n";
  std::unique_ptr<Module> m = parse_ok(text);
  ASSERT_TRUE(m);
  EXPECT_EQ(print_module(*m), text);
  const Block& body = *m->function("f")->body();
  EXPECT_EQ(body.ops()[0]->operand(1), body.ops()[2]->result(0));
  Status s = verify_module(*m);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "line 4: add %0: operand 1 is used before it is defined or outside its scope");
}

// ---- elided constants --------------------------------------------------------

TEST(TextForm, LargeConstantsAreElidedOnRequest) {
  Module m("big");
  Function* f = m.add_function("f");
  std::vector<TensorType> types;
  std::vector<Value*> results;
  auto constant = [&](Attribute value, TensorType type) {
    AttrMap attrs{{"dtype", type.dtype}, {"shape", type.shape}, {"value", std::move(value)}};
    Op* op = f->body()->insert(std::make_unique<Op>(&OpRegistry::instance().get("constant"), std::vector<Value*>{},
                                                    std::move(attrs)));
    types.push_back(type);
    results.push_back(op->add_result(std::move(type)));
  };
  std::vector<double> values(20);
  for (size_t i = 0; i < values.size(); ++i) values[i] = 0.25 * static_cast<double>(i);
  constant(values, f32({4, 5}));
  constant(std::vector<int64_t>(20, 3), i32({20}));
  constant(std::vector<double>{1.5, 2.5}, f32({2}));
  constant(std::vector<int64_t>{1, 2}, i32({2}));
  f->body()->insert(std::make_unique<Op>(&OpRegistry::instance().get("return"), results));
  f->set_result_types(types);

  const PrintOptions elide{.max_constant_elements = 16};
  const std::string text = print_module(m, elide);
  EXPECT_EQ(text,
            "module @big\n"
            "\n"
            "func @f() -> (f32[4,5], i32[20], f32[2], i32[2]) {\n"
            "  %0 = constant {dtype = f32, shape = [4, 5], value = <elided 20 floats>} : f32[4,5]\n"
            "  %1 = constant {dtype = i32, shape = [20], value = <elided 20 integers>} : i32[20]\n"
            "  %2 = constant {dtype = f32, shape = [2], value = [1.5, 2.5]} : f32[2]\n"
            "  %3 = constant {dtype = i32, shape = [2], value = [1, 2]} : i32[2]\n"
            "  return %0, %1, %2, %3\n"
            "}\n");
  EXPECT_EQ(parse_error(text), "test.graph:4:55: expected an attribute value, found an elided constant "
                               "'<elided 20 floats>': text printed with elided constants cannot be parsed back");
  // By default nothing is elided, and the text reads back.
  EXPECT_NE(expect_round_trip(m, /*verify=*/false).find("value = [0.0, 0.25, 0.5,"), std::string::npos);
}

// ---- parse errors --------------------------------------------------------------

struct ErrorCase {
  const char* what;
  std::string text;
  const char* message;
};

std::string nested_loops(int depth) {
  std::string text = "module @m\nfunc @f(%n: i64[]) -> () {\n";
  for (int i = 0; i < depth; ++i) text += "loop %n {\n^(%i" + std::to_string(i) + ": i64[]):\n";
  text += "yield\n";
  for (int i = 0; i < depth; ++i) text += i + 1 < depth ? "}\nyield\n" : "}\n";
  return text + "return\n}\n";
}

const std::string kHead = "module @m\nfunc @f(%x: f32[4]) -> (f32[4]) {\n";

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.what; }

class ParseErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ParseErrors, SayWhereAndWhat) { EXPECT_EQ(parse_error(GetParam().text), GetParam().message) << GetParam().what; }

const ErrorCase kErrorCases[] = {
    {"no module header", "func @f() -> () {\n  return\n}\n", "test.graph:1:1: expected 'module', found 'func'"},
    {"module without a name", "module m\n", "test.graph:1:8: expected module name '@name' after 'module', found 'm'"},
    {"junk at the top level", "module @m\nfunk @f() -> () {\n}\n",
     "test.graph:2:1: expected 'weight', 'state' or 'func', found 'funk'"},
    {"'=' instead of ':' in a parameter", "module @m\n\nfunc @main(%x = f32[4]) -> () {\n  return\n}\n",
     "test.graph:3:15: expected ':' after value name, found '='"},
    {"missing arrow", "module @m\nfunc @f(%x: f32[4]) (f32[4]) {\n",
     "test.graph:2:21: expected '->' after the parameters, found '('"},
    {"unknown op", kHead + "  %y = frobnicate %x : f32[4]\n  return %y\n}\n",
     "test.graph:3:8: unknown op 'frobnicate'"},
    {"undefined value", kHead + "  %y = add %x, %z : f32[4]\n  return %y\n}\n",
     "test.graph:3:16: undefined value %z"},
    {"value of another function",
     "module @m\nfunc @g(%z: f32[4]) -> () {\n  return\n}\nfunc @f() -> () {\n  return %z\n}\n",
     "test.graph:6:10: undefined value %z"},
    {"duplicate value name", kHead + "  %y = neg %x : f32[4]\n  %y = exp %x : f32[4]\n  return %y\n}\n",
     "test.graph:4:3: duplicate value name %y (first defined on line 3)"},
    {"duplicate name in sibling regions",
     "module @m\nfunc @f(%c: bool[]) -> () {\n  if %c {\n  ^():\n    %t = neg %c : bool[]\n    yield\n"
     "  } {\n  ^():\n    %t = neg %c : bool[]\n    yield\n  }\n  return\n}\n",
     "test.graph:9:5: duplicate value name %t (first defined on line 5)"},
    {"duplicate parameter", "module @m\nfunc @f(%x: f32[4], %x: f32[4]) -> () {\n",
     "test.graph:2:21: duplicate value name %x (first defined on line 2)"},
    {"unknown dtype", "module @m\nfunc @f(%x: f33[4]) -> () {\n",
     "test.graph:2:13: unknown dtype 'f33' (expected f32, bf16, f16, i32, i64 or bool)"},
    {"malformed number in a shape", "module @m\nweight @w : f32[4x]\n", "test.graph:2:17: malformed number '4x'"},
    {"malformed float", kHead + "  return {eps = 1.5.2}\n}\n", "test.graph:3:17: malformed number '1.5.2'"},
    {"exponent without digits", kHead + "  return {eps = 1e-}\n}\n", "test.graph:3:17: malformed number '1e-'"},
    {"integer out of range", kHead + "  return {n = 99999999999999999999}\n}\n",
     "test.graph:3:15: integer '99999999999999999999' is out of range (64-bit)"},
    {"float out of range", kHead + "  return {n = 1e999}\n}\n", "test.graph:3:15: float '1e999' is out of range"},
    {"unterminated string", kHead + "  return {p = \"gt}\n}\n", "test.graph:3:15: unterminated string"},
    {"unknown escape", kHead + "  return {p = \"a\\qb\"}\n}\n",
     "test.graph:3:17: unknown escape '\\q' in a string (expected \\\" \\\\ \\n \\t or \\xNN)"},
    {"bad hex escape", kHead + "  return {p = \"\\x4g\"}\n}\n",
     "test.graph:3:16: expected two hex digits after '\\x' in a string"},
    {"negative dim in a type", "module @m\nstate @s : f32[-1]\n",
     "test.graph:2:16: expected a dimension (a non-negative integer or a symbol), found '-1'"},
    {"absurd dim", "module @m\nstate @s : f32[2199023255553]\n",
     "test.graph:2:16: dimension 2199023255553 is larger than 2^40"},
    {"absurd element count", "module @m\nstate @s : f32[1099511627776,1099511627776]\n",
     "test.graph:2:12: type f32[...] has more than 2^48 elements"},
    {"missing result types", kHead + "  %y = neg %x\n  return %y\n}\n",
     "test.graph:3:14: expected ':' and the result types, found end of line"},
    {"too few result types", kHead + "  %a, %b = topk %x {k = 2} : f32[2]\n  return %a\n}\n",
     "test.graph:3:28: expected 2 result types (one per result), found 1"},
    {"types on an op without results", kHead + "  state_set %x {name = @s} : f32[4]\n  return %x\n}\n",
     "test.graph:3:28: expected end of line, found ':' (an op without results has no result types)"},
    {"region without '^'",
     "module @m\nfunc @f(%n: i64[]) -> () {\n  loop %n {\n    %y = neg %n : i64[]\n    yield\n  }\n  return\n}\n",
     "test.graph:4:5: expected '^(' to start the region's arguments, found '%y'"},
    {"region arguments without ':'",
     "module @m\nfunc @f(%n: i64[]) -> () {\n  loop %n {\n  ^(%i: i64[])\n    yield\n  }\n  return\n}\n",
     "test.graph:4:15: expected ':' after the region's arguments, found end of line"},
    {"second region on the next line",
     "module @m\nfunc @f(%c: bool[]) -> () {\n  if %c {\n  ^():\n    yield\n  }\n  {\n  ^():\n    yield\n  }\n"
     "  return\n}\n",
     "test.graph:7:3: expected an op or '}', found '{'"},
    {"two ops on one line", kHead + "  %y = neg %x : f32[4] return %y\n}\n",
     "test.graph:3:24: expected end of line after the op, found 'return'"},
    {"missing closing brace", kHead + "  return %x\n", "test.graph:4:1: expected an op or '}', found end of file"},
    {"stray character", kHead + "  return %x #\n}\n", "test.graph:3:13: expected end of line after the op, found '#'"},
    {"empty value name", kHead + "  return %\n}\n", "test.graph:3:10: expected end of line after the op, found '%'"},
    {"attribute value that is not one", kHead + "  return {predicate = gt}\n}\n",
     "test.graph:3:23: expected an attribute value, found 'gt' (a number, true, false, a \"string\", an @symbol, a "
     "dtype or a [list])"},
    {"duplicate attribute", kHead + "  return {a = 1, a = 2}\n}\n", "test.graph:3:18: duplicate attribute 'a'"},
    {"list mixing floats and dims", kHead + "  return {a = [seq, 0.5]}\n}\n",
     "test.graph:3:21: expected an integer or a symbolic dim (the list holds 'seq'), found '0.5'"},
    {"nested list", kHead + "  return {a = [[1]]}\n}\n",
     "test.graph:3:16: expected a list element (a number or a symbolic dim), found '['"},
    {"duplicate function", "module @m\nfunc @f() -> () {\n  return\n}\nfunc @f() -> () {\n  return\n}\n",
     "test.graph:5:6: function @f is defined twice"},
    {"duplicate global", "module @m\nweight @w : f32[2]\nstate @w : f32[2]\n",
     "test.graph:3:7: global @w is declared twice"},
    {"regions nested too deep", nested_loops(kMaxRegionDepth + 1),
     "test.graph:515:9: regions are nested more than 256 deep"},
};

INSTANTIATE_TEST_SUITE_P(All, ParseErrors, ::testing::ValuesIn(kErrorCases));

TEST(TextForm, RegionsMayNestUpToTheLimit) {
  std::unique_ptr<Module> m = parse_ok(nested_loops(kMaxRegionDepth));
  ASSERT_TRUE(m);
  expect_round_trip(*m);  // and verifies: 256 nested loops are a valid program
}

TEST(TextForm, CommentsAndBlankLinesAreIgnored) {
  std::unique_ptr<Module> m = parse_ok(
      "// a comment before the module\n"
      "\n"
      "module @m   // trailing\n"
      "weight @w : f32[2]\r\n"
      "func @f() -> (f32[2]) {\n"
      "\n"
      "  %w = weight {name = @w} : f32[2]  // read it\n"
      "  return %w\n"
      "}");
  ASSERT_TRUE(m);
  EXPECT_EQ(print_module(*m),
            "module @m\n"
            "\n"
            "weight @w : f32[2]\n"
            "\n"
            "func @f() -> (f32[2]) {\n"
            "  %w = weight {name = @w} : f32[2]\n"
            "  return %w\n"
            "}\n");
  EXPECT_EQ(m->function("f")->body()->ops()[0]->line(), 7);
}

// A derived weight names its initializer after '='; it prints back byte for
// byte and verifies, and the verifier names the weight and its line when the
// initializer is missing or has the wrong signature.
TEST(TextForm, DerivedWeightsRoundTripAndAreVerified) {
  const std::string text = R"(module @m

weight @w : f32[2,2]
weight @w.twice : f32[2,2] = @twice

func @twice() -> (f32[2,2]) {
  %w = weight {name = @w} : f32[2,2]
  %0 = add %w, %w : f32[2,2]
  return %0
}
)";
  std::unique_ptr<Module> m = parse_ok(text);
  ASSERT_TRUE(m);
  EXPECT_EQ(print_module(*m), text);
  expect_round_trip(*m);
  EXPECT_EQ(m->global("w.twice")->initializer, "twice");
  EXPECT_EQ(m->global("w")->initializer, "");

  auto verify_error = [&](const std::string& src) {
    std::unique_ptr<Module> bad = parse_ok(src);
    if (!bad) return std::string("NOT PARSED");
    Status s = verify_module(*bad);
    return s.ok() ? std::string("VERIFIED") : s.error().message;
  };
  std::string missing = text;
  missing.replace(missing.find("= @twice"), 8, "= @thrice");
  EXPECT_NE(verify_error(missing).find("weight @w.twice: initializer @thrice is not a function"), std::string::npos)
      << verify_error(missing);
  EXPECT_NE(verify_error(missing).find("4"), std::string::npos);  // the global's line
  std::string wrong_type = text;
  wrong_type.replace(wrong_type.find("f32[2,2] = @twice"), 8, "f32[4,1]");
  EXPECT_NE(verify_error(wrong_type).find("initializer @twice must return exactly f32[4,1]"), std::string::npos)
      << verify_error(wrong_type);
  std::string with_param = text;
  with_param.replace(with_param.find("@twice() -> "), 12, "@twice(%x: f32[]) -> ");
  EXPECT_NE(verify_error(with_param).find("must take no arguments"), std::string::npos) << verify_error(with_param);
}

}  // namespace
}  // namespace graphc
