// fold-constants: evaluates pure ops whose operands are all constants, at
// compile time, with the reference interpreter's kernels.
//
// Matches
//
//     %a = constant {value = 2.0, ...} : f32[4]
//     %b = iota {axis = 0, shape = [4]} : i32[4]       (a static iota counts as a constant)
//     %c = cast %b {to = f32} : f32[4]           ->    %c = constant {value = [0.0, 1.0, 2.0, 3.0], ...} : f32[4]
//     %d = mul %a, %c : f32[4]                   ->    %d = constant {value = [0.0, 2.0, 4.0, 6.0], ...} : f32[4]
//
// and replaces each result by a `constant` holding its value (a splat when
// every element is the same), keeping the result's name. Chains fold in one
// run; constants and iotas left unused are removed.
//
// Guarantees: the constant holds exactly what the reference interpreter
// computes for the op (the oracle every backend is tested against), rounded
// to the result's dtype as the interpreter rounds it.
//
// Refuses: ops with side effects, regions or no operands (`constant`, a
// generator, `weight`, `state_get` stay); ops with a symbolic result shape;
// results with more than `max-elements` elements in all (default 65536), so
// the IR does not grow by large tensors; and ops whose evaluation fails (an
// out-of-range gather, say: it stays, and fails at run time as before). Each
// refusal is counted.
//
// Options: max-elements=N.
#include <fmt/format.h>

#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "backends/reference/reference_kernels.h"
#include "ir/op_registry.h"
#include "passes/pass.h"

namespace graphc {
namespace {

// Kernels evaluated here get static result shapes and nothing else.
class FoldingContext : public ReferenceContext {
 public:
  std::vector<int64_t> result_shape(const Op& op, int i) override { return to_static(op.result(i)->shape()); }
  std::vector<TensorPtr> run_region(const Block&, std::vector<TensorPtr>) override { throw refuse(); }
  std::vector<TensorPtr> call(const std::string&, std::vector<TensorPtr>) override { throw refuse(); }
  TensorPtr weight(const std::string&) override { throw refuse(); }
  TensorPtr state_at_entry(const std::string&) override { throw refuse(); }
  void set_state(const std::string&, TensorPtr) override { throw refuse(); }

 private:
  static GraphcError refuse() { return GraphcError("not a compile-time constant"); }
};

bool is_constant_source(const Op& op) {
  if (op.name() == "constant") return true;
  return op.name() == "iota" && is_static(op.result(0)->shape());
}

bool all_results_static(const Op& op) {
  for (const auto& r : op.results())
    if (!is_static(r->shape())) return false;
  return true;
}

// The `value` attribute of a constant equal to t: a splat when all elements
// are the same, else every element in row-major order.
Attribute constant_value(const HostTensor& t) {
  if (t.is_float()) {
    const std::vector<float>& f = t.floats();
    bool splat = true;
    for (float x : f) splat &= std::memcmp(&x, &f[0], sizeof x) == 0;
    if (f.empty()) return Attribute(0.0);
    if (splat) return Attribute(static_cast<double>(f[0]));
    return Attribute(std::vector<double>(f.begin(), f.end()));
  }
  const std::vector<int64_t>& i = t.ints();
  if (i.empty()) return Attribute(int64_t{0});
  bool splat = true;
  for (int64_t x : i) splat &= x == i[0];
  if (splat) return Attribute(i[0]);
  return Attribute(i);
}

class ConstantFolder {
 public:
  ConstantFolder(Function& f, PassStats& stats, int64_t max_elements)
      : fn_(f), stats_(stats), max_elements_(max_elements) {}

  bool run() {
    sweep(fn_.body());
    remove_unused_sources();
    return changed_;
  }

 private:
  void sweep(Block* block) {
    for (int i = 0; i < block->num_ops(); ++i) {
      Op* op = block->ops()[i].get();
      for (const auto& r : op->regions()) sweep(r.get());
      if (!foldable(*op)) continue;
      std::optional<std::vector<TensorPtr>> values = evaluate(*op);
      if (!values) continue;
      for (int r = 0; r < op->num_results(); ++r) {
        Op* c = insert_constant(block, i++, *op->result(r), *(*values)[r]);
        replace_all_uses(fn_.body(), op->result(r), c->result(0));
        values_[c] = (*values)[r];
        stats_.count("bytes of constants folded", (*values)[r]->numel() * dtype_bytes((*values)[r]->dtype()));
      }
      for (Value* v : op->operands()) sources_.push_back(v->defining_op());
      block->erase(op);
      --i;
      stats_.count("ops folded");
      changed_ = true;
    }
  }

  bool foldable(const Op& op) {
    if (op.num_operands() == 0 || op.num_results() == 0 || op.num_regions() != 0 || !is_pure(op)) return false;
    for (Value* v : op.operands()) {
      const Op* d = v->defining_op();
      if (!d || !is_constant_source(*d)) return false;
    }
    if (!all_results_static(op)) {
      stats_.count("refused: symbolic shape");
      return false;
    }
    int64_t elements = 0;
    for (const auto& r : op.results()) elements += *num_elements(r->shape());
    if (elements > max_elements_) {
      stats_.count("refused: over max-elements");
      return false;
    }
    return true;
  }

  std::optional<std::vector<TensorPtr>> evaluate(const Op& op) {
    const ReferenceKernel* kernel = ReferenceKernels::instance().find(op.name());
    if (!kernel) {
      stats_.count("refused: no reference kernel");
      return std::nullopt;
    }
    try {
      Inputs inputs;
      for (Value* v : op.operands()) inputs.push_back(value_of(*v->defining_op()));
      KernelResults out = (*kernel)(op, inputs, context_);
      if (static_cast<int>(out.values.size()) != op.num_results()) throw GraphcError("wrong number of results");
      for (int r = 0; r < op.num_results(); ++r)
        if (out.values[r]->type() != op.result(r)->type()) throw GraphcError("result of the wrong type");
      return out.values;
    } catch (const std::exception& e) {
      stats_.count("refused: evaluation failed");
      stats_.remark(fmt::format("fold-constants: {} not folded: {}", op.name(), e.what()));
      return std::nullopt;
    }
  }

  TensorPtr value_of(const Op& source) {
    auto it = values_.find(&source);
    if (it != values_.end()) return it->second;
    KernelResults out = (*ReferenceKernels::instance().find(source.name()))(source, {}, context_);
    values_[&source] = out.values.at(0);
    return out.values.at(0);
  }

  Op* insert_constant(Block* block, int pos, const Value& like, const HostTensor& value) {
    AttrMap attrs{{"dtype", Attribute(value.dtype())},
                  {"shape", Attribute(like.shape())},
                  {"value", constant_value(value)}};
    auto op = std::make_unique<Op>(&OpRegistry::instance().get("constant"), std::vector<Value*>{}, std::move(attrs));
    op->add_result(like.type(), like.name());
    return block->insert(std::move(op), pos);
  }

  // Constants and iotas the folding left without uses.
  void remove_unused_sources() {
    if (sources_.empty()) return;
    std::unordered_map<const Value*, int64_t> uses;
    walk(fn_.body(), [&](Op* op) {
      for (Value* v : op->operands()) ++uses[v];
    });
    std::unordered_set<const Op*> seen;
    for (Op* op : sources_) {
      if (!seen.insert(op).second || uses[op->result(0)] > 0) continue;
      values_.erase(op);
      op->parent_block()->erase(op);
    }
  }

  Function& fn_;
  PassStats& stats_;
  int64_t max_elements_;
  FoldingContext context_;
  std::unordered_map<const Op*, TensorPtr> values_;  // of constant sources
  std::vector<Op*> sources_;  // sources whose users were folded
  bool changed_ = false;
};

class FoldConstants : public Pass {
 public:
  explicit FoldConstants(int64_t max_elements) : max_elements_(max_elements) {}
  std::string name() const override { return "fold-constants"; }
  std::string summary() const override {
    return "evaluates pure ops on constant operands at compile time (results up to max-elements)";
  }

  Expected<bool> run(Module& module, PassStats& stats) override {
    bool changed = false;
    for (const auto& f : module.functions()) changed |= ConstantFolder(*f, stats, max_elements_).run();
    return changed;
  }

 private:
  int64_t max_elements_;
};

}  // namespace

std::unique_ptr<Pass> create_fold_constants(const PassOptions& options) {
  options.expect_only({"max-elements"});
  const int64_t max_elements = options.get_int("max-elements", 65536);
  if (max_elements < 0) throw GraphcError("option 'max-elements' must be >= 0");
  return std::make_unique<FoldConstants>(max_elements);
}

}  // namespace graphc
