// canonicalize: local algebraic simplifications that keep every type exactly.
//
// Matches (c1 and c0 are `constant` ops whose every element is 1 or 0):
//
//     mul x, c1 | mul c1, x      -> x          "x*1"
//     add x, c0 | add c0, x      -> x          "x+0"
//     sub x, c0                  -> x          "x-0"
//     div x, c1                  -> x          "x/1"
//     transpose x {perm = identity}            -> x                     "identity transpose"
//     transpose (transpose x {p}) {q}          -> transpose x {p∘q},
//                                                 or x when p∘q is the identity    "transpose pair"
//     reshape x  to x's own shape              -> x                     "same-shape reshape"
//     reshape (reshape x {s1}) {s2}            -> reshape x {s2}        "reshape chain"
//     cast x {to = dtype of x}                 -> x                     "same-dtype cast"
//     broadcast x to x's own shape             -> x                     "same-shape broadcast"
//
// Guarantees: a match is replaced by a value of exactly its type (a constant
// that would broadcast x to a larger shape, or change nothing but a symbol's
// spelling, is left alone), and the result is the same number, with one
// exception: x + 0 for x = -0.0 gives +0.0, and the rewrite keeps -0.0 (only
// the sign of a zero can differ). Ops the rewrites leave unused are removed;
// ops that were unused before are dce's business.
//
// Refuses: anything whose rewritten form would infer a different result type
// (checked with the op's own type inference), constants that are not splats
// of exactly 0 or 1, and empty tensors.
#include <unordered_set>

#include "passes/pass.h"

namespace graphc {
namespace {

// The value of a `constant` whose elements are all equal.
std::optional<double> splat_value(const Value* v) {
  const Op* def = v->defining_op();
  if (!def || def->name() != "constant" || !def->has_attr("value")) return std::nullopt;
  const Attribute& a = def->attr("value");
  switch (a.kind()) {
    case AttrKind::Int:
      return static_cast<double>(a.as_int());
    case AttrKind::Float:
      return a.as_float();
    case AttrKind::Floats: {
      const auto& vs = a.as_floats();
      if (vs.empty()) return std::nullopt;
      for (double x : vs)
        if (x != vs[0]) return std::nullopt;
      return vs[0];
    }
    case AttrKind::Dims: {
      const auto& ds = a.as_dims();
      if (ds.empty()) return std::nullopt;
      for (const Dim& d : ds)
        if (!d.is_static() || d.value != ds[0].value) return std::nullopt;
      return static_cast<double>(ds[0].value);
    }
    default:
      return std::nullopt;
  }
}

bool is_splat(const Value* v, double want) {
  std::optional<double> s = splat_value(v);
  return s && *s == want;
}

bool is_identity(const std::vector<int64_t>& perm) {
  for (size_t i = 0; i < perm.size(); ++i)
    if (perm[i] != static_cast<int64_t>(i)) return false;
  return true;
}

// Whether the op, as it now stands, still infers exactly its result types.
bool still_infers_its_types(const Op& op) {
  Expected<std::vector<TensorType>> t = Error{};
  try {
    t = op.def().infer(op);
  } catch (const std::exception&) {
    return false;
  }
  if (!t.ok() || static_cast<int>(t->size()) != op.num_results()) return false;
  for (int i = 0; i < op.num_results(); ++i)
    if ((*t)[i] != op.result(i)->type()) return false;
  return true;
}

class Canonicalizer {
 public:
  Canonicalizer(Function& f, PassStats& stats) : fn_(f), stats_(stats) {}

  bool run() {
    sweep(fn_.body());
    remove_dead();
    return changed_;
  }

 private:
  void sweep(Block* block) {
    for (int i = 0; i < block->num_ops();) {
      Op* op = block->ops()[i].get();
      for (const auto& r : op->regions()) sweep(r.get());
      if (Value* same = simplify(*op)) {
        note_dropped_uses(*op);
        replace_all_uses(fn_.body(), op->result(0), same);
        block->erase(op);
        changed_ = true;
        continue;
      }
      ++i;
    }
  }

  // The value the op's single result equals, or null; may instead rewrite
  // the op in place (then returns null and sets changed_).
  Value* simplify(Op& op) {
    if (op.num_results() != 1 || op.num_regions() != 0) return nullptr;
    const TensorType& type = op.result(0)->type();
    const std::string& kind = op.name();
    const auto operand_if_same_type = [&](int i, const char* what) -> Value* {
      if (op.operand(i)->type() != type) return nullptr;
      stats_.count(what);
      return op.operand(i);
    };
    if (kind == "mul") {
      if (is_splat(op.operand(1), 1.0)) return operand_if_same_type(0, "x*1");
      if (is_splat(op.operand(0), 1.0)) return operand_if_same_type(1, "x*1");
    } else if (kind == "add") {
      if (is_splat(op.operand(1), 0.0)) return operand_if_same_type(0, "x+0");
      if (is_splat(op.operand(0), 0.0)) return operand_if_same_type(1, "x+0");
    } else if (kind == "sub") {
      if (is_splat(op.operand(1), 0.0)) return operand_if_same_type(0, "x-0");
    } else if (kind == "div") {
      if (is_splat(op.operand(1), 1.0)) return operand_if_same_type(0, "x/1");
    } else if (kind == "transpose") {
      return simplify_transpose(op);
    } else if (kind == "reshape") {
      return simplify_reshape(op);
    } else if (kind == "cast") {
      if (op.operand(0)->dtype() == op.attr("to").as_type()) return operand_if_same_type(0, "same-dtype cast");
    } else if (kind == "broadcast") {
      return operand_if_same_type(0, "same-shape broadcast");
    }
    return nullptr;
  }

  Value* simplify_transpose(Op& op) {
    std::vector<int64_t> perm = op.attr_ints("perm");
    Op* inner = op.operand(0)->defining_op();
    if (inner && inner->name() == "transpose") {
      // Result dim i is inner's dim perm[i], which is x's dim inner_perm[perm[i]].
      const std::vector<int64_t> inner_perm = inner->attr_ints("perm");
      std::vector<int64_t> composed(perm.size());
      for (size_t i = 0; i < perm.size(); ++i) composed[i] = inner_perm.at(perm[i]);
      Value* x = inner->operand(0);
      if (is_identity(composed)) {
        if (x->type() != op.result(0)->type()) return nullptr;
        stats_.count("transpose pair");
        return x;
      }
      if (rewrite_operand(op, x, "perm", Attribute(composed))) stats_.count("transpose pair");
      return nullptr;
    }
    if (is_identity(perm) && op.operand(0)->type() == op.result(0)->type()) {
      stats_.count("identity transpose");
      return op.operand(0);
    }
    return nullptr;
  }

  Value* simplify_reshape(Op& op) {
    Op* inner = op.operand(0)->defining_op();
    if (inner && inner->name() == "reshape" && rewrite_operand(op, inner->operand(0), "", Attribute(0)))
      stats_.count("reshape chain");
    if (op.operand(0)->type() == op.result(0)->type()) {
      stats_.count("same-shape reshape");
      return op.operand(0);
    }
    return nullptr;
  }

  // Points the op's operand 0 at `x` (and sets an attribute, if named);
  // keeps the change only if the op still infers its own result type.
  bool rewrite_operand(Op& op, Value* x, const std::string& attr, Attribute value) {
    Value* old_operand = op.operand(0);
    std::optional<Attribute> old_attr;
    if (!attr.empty()) {
      if (op.has_attr(attr)) old_attr = op.attrs().at(attr);
      op.set_attr(attr, value);
    }
    op.set_operand(0, x);
    if (still_infers_its_types(op)) {
      if (Op* d = old_operand->defining_op()) maybe_dead_.push_back(d);
      changed_ = true;
      return true;
    }
    op.set_operand(0, old_operand);
    if (!attr.empty()) {
      if (old_attr) op.set_attr(attr, *old_attr);
      else op.mutable_attrs().erase(attr);
    }
    return false;
  }

  void note_dropped_uses(const Op& op) {
    for (Value* v : op.operands())
      if (Op* d = v->defining_op()) maybe_dead_.push_back(d);
  }

  // Removes the ops this pass left without uses, and what only they used.
  void remove_dead() {
    if (maybe_dead_.empty()) return;
    std::unordered_map<const Value*, int64_t> uses;
    walk(fn_.body(), [&](Op* op) {
      for (Value* v : op->operands()) ++uses[v];
    });
    std::unordered_set<const Op*> erased;
    while (!maybe_dead_.empty()) {
      Op* op = maybe_dead_.back();
      maybe_dead_.pop_back();
      if (erased.count(op) || !is_pure(*op) || op->num_regions() != 0) continue;
      bool used = false;
      for (const auto& r : op->results()) used |= uses[r.get()] > 0;
      if (used) continue;
      for (Value* v : op->operands()) {
        --uses[v];
        if (Op* d = v->defining_op()) maybe_dead_.push_back(d);
      }
      erased.insert(op);
      op->parent_block()->erase(op);
      stats_.count("ops left unused and removed");
    }
  }

  Function& fn_;
  PassStats& stats_;
  std::vector<Op*> maybe_dead_;
  bool changed_ = false;
};

class Canonicalize : public Pass {
 public:
  std::string name() const override { return "canonicalize"; }
  std::string summary() const override {
    return "algebraic simplification: x*1, x+0, x-0, x/1, transpose pairs, reshape chains, no-op casts";
  }

  Expected<bool> run(Module& module, PassStats& stats) override {
    bool changed = false;
    for (const auto& f : module.functions()) changed |= Canonicalizer(*f, stats).run();
    return changed;
  }
};

}  // namespace

std::unique_ptr<Pass> create_canonicalize(const PassOptions& options) {
  options.expect_only({});
  return std::make_unique<Canonicalize>();
}

}  // namespace graphc
