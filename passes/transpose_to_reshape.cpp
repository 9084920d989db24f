// transpose-to-reshape: a transpose that moves only dims of size 1 leaves the
// elements in the same order, so it becomes a reshape, which costs nothing
// (the backend aliases the memory) where a transpose copies.
//
// Matches
//
//     %t = transpose %kv {perm = [1, 0, 2]} : f32[1,4096,256]   (%kv: f32[4096,1,256])
//
// and rewrites it to
//
//     %t = reshape %kv {shape = [1, 4096, 256]} : f32[1,4096,256]
//
// Decode reads each KV cache through such a transpose (the [len, kv_heads, d]
// cache seen as [kv_heads, len, d] with one KV head), and copying it would
// cost as much memory traffic per token as the attention itself.
//
// Guarantees: the same elements in the same order, the same type. Runs after
// the fusions in the default pipeline: the fusion patterns match the model's
// transposes as written.
//
// Refuses: transposes that reorder two dims of which neither is statically 1
// (a symbolic dim counts as not 1).
#include "passes/pass.h"

namespace graphc {
namespace {

bool moves_only_unit_dims(const std::vector<int64_t>& perm, const Shape& in) {
  int64_t last = -1;
  for (int64_t p : perm) {
    if (in.at(p).is_static() && in.at(p).value == 1) continue;
    if (p < last) return false;
    last = p;
  }
  return true;
}

class TransposeToReshape : public Pass {
 public:
  std::string name() const override { return "transpose-to-reshape"; }
  std::string summary() const override { return "turns transposes that move only size-1 dims into reshapes"; }

  Expected<bool> run(Module& module, PassStats& stats) override {
    std::vector<Op*> found;
    for (const auto& f : module.functions())
      walk(f->body(), [&](Op* op) {
        if (op->name() == "transpose" && moves_only_unit_dims(op->attr_ints("perm"), op->operand(0)->shape()))
          found.push_back(op);
      });
    for (Op* op : found) {
      auto reshape = std::make_unique<Op>(&OpRegistry::instance().get("reshape"), std::vector<Value*>{op->operand(0)},
                                          AttrMap{{"shape", Attribute(op->result(0)->shape())}});
      auto types = reshape->def().infer(*reshape);
      if (!types.ok() || types->size() != 1 || (*types)[0] != op->result(0)->type()) continue;
      reshape->add_result((*types)[0]);
      reshape->result(0)->set_name(op->result(0)->name());
      Block* block = op->parent_block();
      Op* inserted = block->insert(std::move(reshape), block->position_of(op));
      replace_all_uses(block, op->result(0), inserted->result(0));
      block->erase(op);
      stats.count("transposes made reshapes");
    }
    return !found.empty();
  }
};

}  // namespace

std::unique_ptr<Pass> create_transpose_to_reshape(const PassOptions& options) {
  options.expect_only({});
  return std::make_unique<TransposeToReshape>();
}

}  // namespace graphc
