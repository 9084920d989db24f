// fuse-geglu: replaces the gate and up projections of a GeGLU MLP, the
// tanh-approximated GELU of the gate, and their product by one geglu op. The
// down projection stays a matmul.
//
// Matches, with the operands of each mul and add in either order (x is the
// gate projection, used five times):
//
//        h ──┬─► matmul(h, w_gate, transpose_b) ─► x
//            └─► matmul(h, w_up,   transpose_b) ─► up ─────────────────────────────────────┐
//
//   x ─► mul(0.044715, x) ─► mul(·, x) ─► mul(·, x) ─► add(x, ·) ─► mul(sqrt(2/pi), ·) ─► tanh
//   tanh ─► add(1.0, ·) ─┐
//   x ─► mul(0.5, x) ────┴─► mul ─► gelu ─► mul(gelu, up) ─► y          (up from above)
//
//   y = gelu_tanh(h w_gate^T) * (h w_up^T),
//   gelu_tanh(x) = (0.5 x) (1 + tanh(sqrt(2/pi) (x + ((0.044715 x) x) x)))
//
// exactly as graphs/layers.cpp writes it, and rewrites it to
// y = geglu(h, w_gate, w_up). The constants must equal 0.5, 1.0, sqrt(2/pi)
// and 0.044715 once rounded to the dtype (what the constant tensors hold).
//
// Guarantees: geglu computes the same products in the same order with the
// same roundings (backends/reference/fused_kernels.cpp), so results are
// bit-identical on the reference interpreter. The replaced ops are removed.
//
// Refuses, with a remark naming the tanh's input, when a GELU-shaped
// expression has a wrong constant, is a GELU of something other than a
// matmul h·w_gate^T (transpose_b, 2-D weight), is not multiplied by a matmul
// h·w_up^T of the same h and shape, or has an intermediate used outside the
// pattern. A tanh that is not inside a GELU-shaped expression passes silently.
// Other groupings of the products (x^3 as x * x * x first, say) round
// differently and are not matched.
#include <fmt/format.h>

#include <cmath>

#include "passes/fusion_pattern.h"

namespace graphc {
namespace {

// A two-operand op of `kind` defining v whose operands are {a, b} for some b
// satisfying `pred(b)` (in either position); returns b or null.
template <typename Pred>
Value* operand_besides(const Op* op, const Value* a, Pred pred) {
  if (!op || op->num_operands() != 2) return nullptr;
  for (int i = 0; i < 2; ++i)
    if (op->operand(i) == a && pred(op->operand(1 - i))) return op->operand(1 - i);
  return nullptr;
}

// The ops of a gelu_tanh(x) around its tanh, found structurally; constants
// are checked afterwards so that a wrong one is reported.
struct Gelu {
  Value* x = nullptr;
  Op *cube1 = nullptr, *cube2 = nullptr, *cube3 = nullptr, *sum = nullptr, *inner = nullptr, *tanh = nullptr;
  Op *one_plus = nullptr, *half_x = nullptr, *gelu = nullptr;
  Value *k_cubic = nullptr, *k_sqrt = nullptr, *k_one = nullptr, *k_half = nullptr;
};

// mul(c, x) or mul(x, c) with c a splat constant: c.
Value* constant_factor(const Op* mul, const Value* x) {
  if (!mul || mul->name() != "mul") return nullptr;
  return operand_besides(mul, x, [](const Value* c) { return splat_constant(c).has_value(); });
}

// x + ((c x) x) x: sets x, the cube ops and c.
bool match_sum(Op* sum, Gelu& g) {
  if (!sum || sum->name() != "add") return false;
  for (int i = 0; i < 2; ++i) {
    Value* x = sum->operand(i);
    Op* c3 = defined_by(sum->operand(1 - i), "mul");
    if (!c3) continue;
    Op* c2 = defined_by(operand_besides(c3, x, [](const Value*) { return true; }), "mul");
    if (!c2) continue;
    Op* c1 = defined_by(operand_besides(c2, x, [](const Value*) { return true; }), "mul");
    Value* k = constant_factor(c1, x);
    if (!k) continue;
    g.x = x;
    g.cube1 = c1, g.cube2 = c2, g.cube3 = c3, g.sum = sum, g.k_cubic = k;
    return true;
  }
  return false;
}

bool match_gelu(FusionRewriter& rw, Op* tanh, Gelu& g) {
  g.tanh = tanh;
  g.inner = defined_by(tanh->operand(0), "mul");
  if (!g.inner) return false;
  for (int i = 0; i < 2 && !g.x; ++i)
    if (splat_constant(g.inner->operand(i)) && match_sum(defined_by(g.inner->operand(1 - i), "add"), g))
      g.k_sqrt = g.inner->operand(i);
  if (!g.x) return false;
  g.one_plus = rw.user_of_kind(tanh->result(0), "add");
  if (!g.one_plus) return false;
  g.k_one = operand_besides(g.one_plus, tanh->result(0), [](const Value* c) { return splat_constant(c).has_value(); });
  g.gelu = rw.user_of_kind(g.one_plus->result(0), "mul");
  if (!g.k_one || !g.gelu) return false;
  g.half_x = defined_by(operand_besides(g.gelu, g.one_plus->result(0), [](const Value*) { return true; }), "mul");
  g.k_half = constant_factor(g.half_x, g.x);
  return g.k_half != nullptr;
}

// matmul(h, w, transpose_b) with a 2-D w: the op, or null.
Op* projection(const Value* v) {
  Op* m = defined_by(v, "matmul");
  if (!m || m->attr_bool("transpose_a") || !m->attr_bool("transpose_b") || m->operand(1)->rank() != 2) return nullptr;
  return m;
}

bool fuse_at(FusionRewriter& rw, Op* tanh) {
  Gelu g;
  if (!match_gelu(rw, tanh, g)) return false;
  Value* at = tanh->operand(0);
  const std::pair<Value*, double> constants[] = {
      {g.k_cubic, 0.044715}, {g.k_sqrt, std::sqrt(2.0 / M_PI)}, {g.k_one, 1.0}, {g.k_half, 0.5}};
  for (const auto& [c, want] : constants)
    if (!is_splat(c, want)) {
      rw.refuse(at, fmt::format("gelu_tanh has the constant {} where {} is expected", *splat_constant(c), want));
      return false;
    }
  Op* gate = projection(g.x);
  if (!gate) {
    rw.refuse(at, fmt::format("gelu_tanh is of {}, not of a matmul h w_gate^T (transpose_b, 2-D weight)", rw.name(g.x)));
    return false;
  }
  Value* h = gate->operand(0);
  auto up_of = [&](const Op& mul) {
    return projection(operand_besides(&mul, g.gelu->result(0), [](const Value*) { return true; }));
  };
  Op* product = rw.user_of_kind(g.gelu->result(0), "mul", [&](const Op& mul) {
    const Op* up = up_of(mul);
    return up && up->operand(0) == h && up->operand(1)->type() == gate->operand(1)->type();
  });
  Op* up = product ? up_of(*product) : nullptr;
  if (!up) {
    rw.refuse(at, "gelu_tanh(h w_gate^T) does not multiply a matmul h w_up^T of the same h and shape");
    return false;
  }
  const std::vector<Op*> pattern{gate,   up,        g.cube1,  g.cube2, g.cube3,
                                 g.sum,  g.inner,   g.tanh,   g.one_plus, g.half_x, g.gelu, product,
                                 g.k_cubic->defining_op(), g.k_sqrt->defining_op(), g.k_one->defining_op(),
                                 g.k_half->defining_op()};
  for (const Op* inner : {gate, up, g.cube1, g.cube2, g.cube3, g.sum, g.inner, g.tanh, g.one_plus, g.half_x, g.gelu})
    if (!rw.used_only_by(inner->result(0), pattern)) {
      rw.refuse(at, fmt::format("{} ({}) is also used outside the pattern", rw.name(inner->result(0)), inner->name()));
      return false;
    }
  Expected<Op*> fused = rw.insert_before(product, "geglu", {h, gate->operand(1), up->operand(1)});
  if (!fused.ok()) {
    rw.refuse(at, fused.error().message);
    return false;
  }
  rw.replace(product->result(0), (*fused)->result(0), pattern);
  return true;
}

class FuseGeglu : public Pass {
 public:
  std::string name() const override { return "fuse-geglu"; }
  std::string summary() const override {
    return "gelu_tanh(h w_gate^T) * (h w_up^T) -> geglu(h, w_gate, w_up); the down projection stays a matmul";
  }
  Expected<bool> run(Module& module, PassStats& stats) override {
    return for_each_function(name(), module, stats, [](FusionRewriter& rw) {
      for (Block* block : rw.blocks())
        for (Op* op : FusionRewriter::snapshot(*block))
          if (!rw.is_removed(op) && op->name() == "tanh") fuse_at(rw, op);
    });
  }
};

}  // namespace

std::unique_ptr<Pass> create_fuse_geglu(const PassOptions& options) {
  options.expect_only({});
  return std::make_unique<FuseGeglu>();
}

}  // namespace graphc
