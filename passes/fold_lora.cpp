// fold-lora: folds frozen LoRA adapters into their base weight, so an adapted
// model runs the base model's ops.
//
// Option: adapters=GLOB|GLOB on base weight names (default: every adapter).
//
// Matches what add-lora writes, with the operands of add and mul in either
// order and s a splat constant:
//
//   x ─┬─► matmul(x, weight @W, tb) ─────────────────────────────────────────► add ─► y
//      └─► matmul(x, state_get @W.lora_a, tb) ─► matmul(·, state_get @W.lora_b, tb) ─► mul(s, ·) ─┘
//
// declares a derived weight (docs/ir.md) and a function computing it,
//
//   weight @W.folded : f32[out, in] = @fold.W
//   func @fold.W() -> (f32[out, in])      W + s (B A)   from weight @W, state_get A, B
//
// and rewrites y to matmul(x, weight @W.folded, tb). The old branch is left
// without users: run dce after this pass (the pipelines in the tests do), and
// each function's op count is then the base model's.
//
// Guarantees: y' = x (W + s B A)^T equals x W^T + s (x A^T) B^T up to float
// rounding (the sums run in a different order). The adapters are read once,
// when the folded weight is first computed: they must be frozen from then on.
//
// Refuses, with a remark, a site whose scale differs from the one already
// folded for the same weight. Blending several adapters of one weight
// (W + sum_i c_i s_i B_i A_i) is not implemented.
#include <fmt/format.h>

#include <map>

#include "passes/fusion_pattern.h"
#include "passes/lora_common.h"
#include "passes/pass.h"

namespace graphc {
namespace {

struct Site {
  Op* add = nullptr;
  Value* x = nullptr;
  std::string weight;
  double scale = 0;
};

// s * (x A^T) B^T for the adapter of `w` on the same x: the scale, if it matches.
std::optional<double> adapter_branch(const Value* v, const Value* x, const std::string& w) {
  const Op* mul = defined_by(v, "mul");
  if (!mul) return std::nullopt;
  for (int i = 0; i < 2; ++i) {
    std::optional<double> s = splat_constant(mul->operand(i));
    const Op* outer = defined_by(mul->operand(1 - i), "matmul");
    if (!s || !outer || outer->num_operands() != 2 || !outer->has_attr("transpose_b") ||
        !outer->attr_bool("transpose_b") || (outer->has_attr("transpose_a") && outer->attr_bool("transpose_a")))
      continue;
    if (lora::global_read(outer->operand(1), "state_get") != lora::b_name(w)) continue;
    const Op* inner = defined_by(outer->operand(0), "matmul");
    if (!inner || inner->operand(0) != x || !inner->has_attr("transpose_b") || !inner->attr_bool("transpose_b") ||
        (inner->has_attr("transpose_a") && inner->attr_bool("transpose_a")))
      continue;
    if (lora::global_read(inner->operand(1), "state_get") != lora::a_name(w)) continue;
    return s;
  }
  return std::nullopt;
}

std::optional<Site> match(Op* add) {
  if (add->name() != "add" || add->num_operands() != 2) return std::nullopt;
  for (int i = 0; i < 2; ++i) {
    const Op* base = add->operand(i)->defining_op();
    if (!base) continue;
    const std::string w = lora::projection_weight(*base);
    if (w.empty()) continue;
    if (auto s = adapter_branch(add->operand(1 - i), base->operand(0), w))
      return Site{add, base->operand(0), w, *s};
  }
  return std::nullopt;
}

class FoldLora : public Pass {
 public:
  explicit FoldLora(std::vector<std::string> adapters) : adapters_(std::move(adapters)) {}
  std::string name() const override { return "fold-lora"; }
  std::string summary() const override {
    return "folds frozen LoRA adapters into derived weights W + (alpha/r) B A; leaves the old branch to dce";
  }

  Expected<bool> run(Module& m, PassStats& stats) override {
    std::vector<Function*> fns;
    for (const auto& f : m.functions()) fns.push_back(f.get());
    int folded = 0;
    for (Function* f : fns) {
      std::vector<Site> sites;
      walk(f->body(), [&](Op* op) {
        if (auto s = match(op); s && lora::matches_any(adapters_, s->weight)) sites.push_back(*s);
      });
      for (const Site& s : sites) {
        auto known = scales_.find(s.weight);
        if (known != scales_.end() && known->second != s.scale) {
          stats.remark(fmt::format("fold-lora: adapter of @{} in @{} not folded: scale {} differs from {} "
                                   "already folded into @{}.folded",
                                   s.weight, f->name(), s.scale, known->second, s.weight));
          continue;
        }
        if (!declare(m, s.weight, s.scale)) {
          stats.remark(fmt::format("fold-lora: adapter of @{} not folded: @{}.folded or @fold.{} already exists",
                                   s.weight, s.weight, s.weight));
          continue;
        }
        Block* block = s.add->parent_block();
        Value* y = nullptr;
        lora::build_before(m, block, s.add, [&](Builder& b) {
          y = b.matmul(Val{s.x}, b.weight(s.weight + ".folded"), false, true);
        });
        replace_all_uses(f->body(), s.add->result(0), y);
        ++folded;
      }
    }
    if (folded) stats.count("adapters folded", folded);
    return folded > 0;
  }

 private:
  // Declares @W.folded and @fold.W the first time W is folded.
  bool declare(Module& m, const std::string& w, double scale) {
    if (scales_.count(w)) return true;
    const std::string folded = w + ".folded", fn = "fold." + w;
    if (m.global(folded) || m.function(fn)) return false;
    const TensorType t = m.global(w)->type;
    Builder b = Builder::function(m, fn);
    Val base = b.weight(w);
    Val a = b.state_get(lora::a_name(w));
    Val bb = b.state_get(lora::b_name(w));
    Val ba = b.matmul(bb, a);  // [out, R] x [R, in]
    b.ret({b.add(base, b.mul(b.scalar(scale, t.dtype), ba))});
    m.add_global(GlobalKind::Weight, folded, t, fn);
    scales_[w] = scale;
    return true;
  }

  std::vector<std::string> adapters_;
  std::map<std::string, double> scales_;
};

}  // namespace

std::unique_ptr<Pass> create_fold_lora(const PassOptions& options) {
  options.expect_only({"adapters"});
  return std::make_unique<FoldLora>(lora::split_globs(options.get("adapters").value_or("*")));
}

}  // namespace graphc
