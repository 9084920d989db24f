// fuse-elementwise: replaces each maximal tree of elementwise ops by one
// fused_elementwise op whose region is the expression on scalars.
//
// Matches, in one block, a root elementwise op and, transitively, the
// elementwise ops producing its operands whose every use is inside the group:
//
//   a ──► mul ──┐
//   b ──────────┴─► add ──► tanh ──► y        (mul and add used only here)
//   c = constant f32[] 0.5 ───► (cloned into the region)
//
// becomes
//
//   y = fused_elementwise(a, b) {
//   ^(%a: f32[], %b: f32[]):
//     %m = mul %a, %b
//     %s = add %m, %b
//     %t = tanh %s
//     yield %t
//   }
//
// Elementwise ops are those the registry marks is_elementwise (unary math,
// binary arithmetic, compare, select, cast). Scalar constants (shape []) are
// copied into the region; every other value the group reads becomes an input,
// once, in order of first use. The result shape is the broadcast of the
// inputs, which is the root's shape.
//
// Guarantees: the region applies the same ops to the same operands, so each
// element is what the unfused ops computed, bit for bit (elementwise ops
// commute with broadcasting; backends/reference/fused_kernels.cpp). The
// replaced ops are removed; a shared scalar constant stays for its other users.
//
// Does not fuse, and says why for the first: an elementwise op feeding the
// group that is also used outside it (it stays a separate op, and becomes the
// root of its own group); a lone elementwise op (nothing to fuse it with); a
// group that reads no tensor at all (a constant expression, which is
// fold-constants' business). The regions of fused_elementwise ops are not
// entered, and two fused_elementwise ops are not merged with each other.
#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "ir/op_registry.h"
#include "passes/fusion_pattern.h"

namespace graphc {
namespace {

bool fusable(const Op& op) { return op.def().is_elementwise && op.num_results() == 1 && op.num_regions() == 0; }

const Op* scalar_constant(const Value* v) {
  const Op* c = defined_by(v, "constant");
  return c && v->rank() == 0 ? c : nullptr;
}

class ElementwiseFuser {
 public:
  explicit ElementwiseFuser(FusionRewriter& rw) : rw_(rw) {}

  void fuse_block(Block* block) {
    std::vector<Op*> ops = FusionRewriter::snapshot(*block);
    for (auto it = ops.rbegin(); it != ops.rend(); ++it)
      if (!rw_.is_removed(*it) && fusable(**it)) fuse_from(block, *it);
  }

 private:
  // Grows the group of `root` backwards through producers used only inside it.
  void fuse_from(Block* block, Op* root) {
    std::vector<Op*> group{root};
    std::vector<Op*> shared;  // elementwise producers with users outside the group
    for (bool grew = true; grew;) {
      grew = false;
      for (size_t i = 0; i < group.size(); ++i)
        for (Value* v : group[i]->operands()) {
          Op* p = v->defining_op();
          if (!p || p->parent_block() != block || !fusable(*p) || rw_.is_removed(p) ||
              std::find(group.begin(), group.end(), p) != group.end())
            continue;
          if (rw_.used_only_by(v, group)) {
            group.push_back(p);
            grew = true;
          } else if (std::find(shared.begin(), shared.end(), p) == shared.end()) {
            shared.push_back(p);
          }
        }
    }
    for (Op* p : shared)
      if (std::find(group.begin(), group.end(), p) == group.end() && reported_.insert(p).second)
        rw_.refuse(p->result(0), fmt::format("it feeds the elementwise chain ending at {} but is also used elsewhere",
                                             rw_.name(root->result(0))));
    if (group.size() < 2) return;
    std::sort(group.begin(), group.end(),
              [&](const Op* a, const Op* b) { return block->position_of(a) < block->position_of(b); });
    build(root, group);
  }

  void build(Op* root, const std::vector<Op*>& group) {
    const OpRegistry& registry = OpRegistry::instance();
    std::vector<Value*> inputs;
    std::vector<Op*> pattern = group;
    for (const Op* op : group)
      for (Value* v : op->operands()) {
        const bool inside = std::find(group.begin(), group.end(), v->defining_op()) != group.end();
        if (inside) continue;
        if (const Op* c = scalar_constant(v)) {
          pattern.push_back(const_cast<Op*>(c));
          continue;
        }
        if (std::find(inputs.begin(), inputs.end(), v) == inputs.end()) inputs.push_back(v);
      }
    if (inputs.empty()) return;  // a constant expression: fold-constants' business

    auto fused = std::make_unique<Op>(&registry.get("fused_elementwise"), inputs);
    Shape shape;
    for (const Value* v : inputs) shape = broadcast_shapes(shape, v->shape()).value_or(shape);
    if (shape != root->result(0)->shape()) fused->set_attr("shape", root->result(0)->shape());
    Block* body = fused->add_region();
    std::unordered_map<const Value*, Value*> scalar;  // outer value -> its scalar in the region
    for (Value* v : inputs) scalar[v] = body->add_arg(TensorType(v->dtype(), {}));
    auto copy = [&](const Op& op, std::vector<Value*> operands) {
      auto clone = std::make_unique<Op>(&op.def(), std::move(operands), op.attrs());
      Expected<std::vector<TensorType>> types = op.def().infer(*clone);
      if (!types.ok()) throw GraphcError("fuse-elementwise: " + op.name() + " on scalars: " + types.error().message);
      for (TensorType& t : *types) clone->add_result(std::move(t));
      return body->insert(std::move(clone))->result(0);
    };
    for (const Op* op : group) {
      std::vector<Value*> operands;
      for (Value* v : op->operands()) {
        if (!scalar.count(v)) scalar[v] = copy(*scalar_constant(v), {});  // a scalar constant
        operands.push_back(scalar.at(v));
      }
      scalar[op->result(0)] = copy(*op, operands);
    }
    body->insert(std::make_unique<Op>(&registry.get("yield"), std::vector<Value*>{scalar.at(root->result(0))}));

    Expected<Op*> inserted = rw_.insert_before(root, std::move(fused));
    if (!inserted.ok()) {
      rw_.refuse(root->result(0), inserted.error().message);
      return;
    }
    rw_.replace(root->result(0), (*inserted)->result(0), pattern);
  }

  FusionRewriter& rw_;
  std::unordered_set<const Op*> reported_;
};

class FuseElementwise : public Pass {
 public:
  std::string name() const override { return "fuse-elementwise"; }
  std::string summary() const override {
    return "trees of elementwise ops -> one fused_elementwise op whose region is the scalar expression";
  }
  Expected<bool> run(Module& module, PassStats& stats) override {
    return for_each_function(name(), module, stats, [](FusionRewriter& rw) {
      ElementwiseFuser fuser(rw);
      for (Block* block : rw.blocks([](const Op& op) { return op.name() != "fused_elementwise"; }))
        fuser.fuse_block(block);
    });
  }
};

}  // namespace

std::unique_ptr<Pass> create_fuse_elementwise(const PassOptions& options) {
  options.expect_only({});
  return std::make_unique<FuseElementwise>();
}

}  // namespace graphc
