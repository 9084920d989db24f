// fold-lora: folds frozen LoRA adapters into their base weight, so an adapted
// model runs the base model's ops.
//
// Options: adapters=GLOB|GLOB on base weight names (default: every adapter);
// blend=N1:c1|N2:c2 weights the adapters of a weight by name ("default" for
// an unnamed one); without it every adapter counts once.
//
// Matches what add-lora writes, with the operands of add and mul in either
// order and s a splat constant:
//
//   x ─┬─► matmul(x, weight @W, tb) ───────────────────────────────► add ─► y
//      └─► matmul(x, A, tb) ─► matmul(·, B, tb) ─► mul(s, ·) ────────┘
//
//   A = state_get @W.lora_a, B = state_get @W.lora_b (or .lora_a.N / .lora_b.N)
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
// Several adapters on one weight (add-lora with name=N, run once per adapter)
// form a chain of adds, base + branch_1 + branch_2 ..., in any nesting order;
// it folds to W + sum_i c_i s_i B_i A_i with c_i from blend (1 without it).
// With blend weights other than 1 this is a new model (adapter blending),
// not a rewrite that keeps the output.
//
// Refuses, with a remark, a chain with an adapter that blend does not name,
// or whose adapters and scales differ from those already folded for the
// same weight.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include "passes/fusion_pattern.h"
#include "passes/lora_common.h"
#include "passes/pass.h"

namespace graphc {
namespace {

// One adapter branch s (x A^T) B^T of an adapted projection.
struct Branch {
  std::string adapter;  // "" for the unnamed adapter
  double scale = 0;
};

struct Site {
  Op* add = nullptr;            // the outermost add of the chain
  std::vector<Op*> adds;        // every add of the chain
  Value* x = nullptr;
  std::string weight;
  std::vector<Branch> branches;
};

// The adapter name N of a global named prefix or prefix.N, if it is one.
std::optional<std::string> adapter_suffix(const std::string& global, const std::string& prefix) {
  if (global == prefix) return std::string();
  if (global.size() > prefix.size() + 1 && global.compare(0, prefix.size(), prefix) == 0 &&
      global[prefix.size()] == '.')
    return global.substr(prefix.size() + 1);
  return std::nullopt;
}

bool is_matmul_tb(const Op* op) {
  return op && op->num_operands() == 2 && op->has_attr("transpose_b") && op->attr_bool("transpose_b") &&
         !(op->has_attr("transpose_a") && op->attr_bool("transpose_a"));
}

// s * (x A^T) B^T for an adapter of `w` on the same x: the branch, if it matches.
std::optional<Branch> adapter_branch(const Value* v, const Value* x, const std::string& w) {
  const Op* mul = defined_by(v, "mul");
  if (!mul) return std::nullopt;
  for (int i = 0; i < 2; ++i) {
    std::optional<double> s = splat_constant(mul->operand(i));
    const Op* outer = defined_by(mul->operand(1 - i), "matmul");
    if (!s || !is_matmul_tb(outer)) continue;
    const Op* inner = defined_by(outer->operand(0), "matmul");
    if (!is_matmul_tb(inner) || inner->operand(0) != x) continue;
    auto name = adapter_suffix(lora::global_read(inner->operand(1), "state_get"), lora::a_name(w));
    if (!name || lora::global_read(outer->operand(1), "state_get") != lora::b_name(w, *name)) continue;
    return Branch{*name, *s};
  }
  return std::nullopt;
}

// v = base + branch + branch ...: fills the site from the innermost add out.
bool match_chain(Value* v, Site& site) {
  Op* def = v->defining_op();
  if (!def) return false;
  if (const std::string w = lora::projection_weight(*def); !w.empty()) {
    site.x = def->operand(0);
    site.weight = w;
    return true;
  }
  if (def->name() != "add" || def->num_operands() != 2) return false;
  for (int i = 0; i < 2; ++i) {
    Site inner = site;
    if (!match_chain(def->operand(i), inner)) continue;
    if (auto b = adapter_branch(def->operand(1 - i), inner.x, inner.weight)) {
      inner.branches.push_back(*b);
      inner.adds.push_back(def);
      site = inner;
      return true;
    }
  }
  return false;
}

std::optional<Site> match(Op* add) {
  if (add->name() != "add") return std::nullopt;
  Site site;
  if (!match_chain(add->result(0), site) || site.branches.empty()) return std::nullopt;
  site.add = add;
  return site;
}

std::string adapter_label(const std::string& adapter) { return adapter.empty() ? "default" : adapter; }

class FoldLora : public Pass {
 public:
  FoldLora(std::vector<std::string> adapters, std::map<std::string, double> blend)
      : adapters_(std::move(adapters)), blend_(std::move(blend)) {}
  std::string name() const override { return "fold-lora"; }
  std::string summary() const override {
    return "folds frozen LoRA adapters into derived weights W + sum c (alpha/r) B A; leaves the old branch to dce";
  }

  Expected<bool> run(Module& m, PassStats& stats) override {
    std::vector<Function*> fns;
    for (const auto& f : m.functions()) fns.push_back(f.get());
    int folded = 0;
    for (Function* f : fns) {
      std::vector<Site> sites;
      std::set<const Op*> inner;  // adds inside a longer chain: folded with it
      walk(f->body(), [&](Op* op) {
        if (auto s = match(op); s && lora::matches_any(adapters_, s->weight)) {
          sites.push_back(*s);
          for (size_t i = 0; i + 1 < s->adds.size(); ++i) inner.insert(s->adds[i]);
        }
      });
      for (const Site& s : sites) {
        if (inner.count(s.add)) continue;
        std::vector<std::pair<std::string, double>> terms;  // adapter, c * s
        std::string missing;
        for (const Branch& b : s.branches) {
          double c = 1;
          if (!blend_.empty()) {
            auto it = blend_.find(adapter_label(b.adapter));
            if (it == blend_.end()) {
              missing = adapter_label(b.adapter);
              break;
            }
            c = it->second;
          }
          terms.push_back({b.adapter, c * b.scale});
        }
        if (!missing.empty()) {
          stats.remark(fmt::format("fold-lora: adapters of @{} in @{} not folded: adapter '{}' has no blend weight",
                                   s.weight, f->name(), missing));
          continue;
        }
        std::sort(terms.begin(), terms.end());
        auto known = terms_.find(s.weight);
        if (known != terms_.end() && known->second != terms) {
          stats.remark(fmt::format("fold-lora: adapters of @{} in @{} not folded: they differ from those already "
                                   "folded into @{}.folded",
                                   s.weight, f->name(), s.weight));
          continue;
        }
        if (!declare(m, s.weight, terms)) {
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
        folded += static_cast<int>(s.branches.size());
      }
    }
    if (folded) stats.count("adapters folded", folded);
    return folded > 0;
  }

 private:
  using Terms = std::vector<std::pair<std::string, double>>;

  // Declares @W.folded and @fold.W the first time W is folded:
  // W + sum over adapters of (c s) (B A).
  bool declare(Module& m, const std::string& w, const Terms& terms) {
    if (terms_.count(w)) return true;
    const std::string folded = w + ".folded", fn = "fold." + w;
    if (m.global(folded) || m.function(fn)) return false;
    const TensorType t = m.global(w)->type;
    Builder b = Builder::function(m, fn);
    Val sum = b.weight(w);
    for (const auto& [adapter, scale] : terms) {
      Val a = b.state_get(lora::a_name(w, adapter));
      Val bb = b.state_get(lora::b_name(w, adapter));
      Val ba = b.matmul(bb, a);  // [out, R] x [R, in]
      sum = b.add(sum, b.mul(b.scalar(scale, t.dtype), ba));
    }
    b.ret({sum});
    m.add_global(GlobalKind::Weight, folded, t, fn);
    terms_[w] = terms;
    return true;
  }

  std::vector<std::string> adapters_;
  std::map<std::string, double> blend_;  // adapter ("default" for the unnamed one) -> weight
  std::map<std::string, Terms> terms_;
};

}  // namespace

std::unique_ptr<Pass> create_fold_lora(const PassOptions& options) {
  options.expect_only({"adapters", "blend"});
  std::map<std::string, double> blend;
  for (const std::string& item : lora::split_globs(options.get("blend").value_or(""))) {
    const size_t colon = item.rfind(':');
    double c = 0;
    try {
      if (colon == std::string::npos || colon == 0) throw std::invalid_argument("");
      size_t used = 0;
      c = std::stod(item.substr(colon + 1), &used);
      if (used != item.size() - colon - 1) throw std::invalid_argument("");
    } catch (const std::exception&) {
      throw GraphcError("option 'blend' takes ADAPTER:WEIGHT|ADAPTER:WEIGHT, got '" + item + "'");
    }
    blend[item.substr(0, colon)] = c;
  }
  return std::make_unique<FoldLora>(lora::split_globs(options.get("adapters").value_or("*")), std::move(blend));
}

}  // namespace graphc
