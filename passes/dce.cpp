// dce: removes pure ops whose results are never used, in function bodies and
// in the regions nested in them.
//
// Matches
//
//     %3 = mul %1, %2 : f32[4]      <- pure, and no op (here or in any nested
//     ...                              region) reads %3
//     return %0
//
// and deletes the op; what it read may become dead in turn, and goes too
// (the block is swept from its end, so a dead chain goes in one run).
//
// Guarantees: the program computes the same results and the same state
// updates. Pure means no side effects of its own or in its regions (see
// is_pure() in pass.h): an unused `loop` or `if` whose regions only compute
// goes; one that sets state or calls a function stays.
//
// Refuses: ops with side effects (`state_set`, `call`, and any op containing
// one), terminators (`return`, `yield`), and block arguments (an unused loop
// carry stays, since it is part of the loop's signature). A removed op that
// would have failed at run time (an out-of-range gather, say) no longer
// fails: only results are preserved, not errors.
#include <unordered_map>

#include "passes/pass.h"

namespace graphc {
namespace {

using UseCounts = std::unordered_map<const Value*, int64_t>;

void count_uses_in(Block* block, UseCounts& uses) {
  walk(block, [&](Op* op) {
    for (Value* v : op->operands()) ++uses[v];
  });
}

// Forgets the uses an op and its regions make, before it is erased.
void drop_uses_of(Op* op, UseCounts& uses) {
  for (Value* v : op->operands()) --uses[v];
  for (const auto& r : op->regions())
    walk(r.get(), [&](Op* inner) {
      for (Value* v : inner->operands()) --uses[v];
    });
}

bool unused(const Op& op, const UseCounts& uses) {
  for (const auto& r : op.results()) {
    auto it = uses.find(r.get());
    if (it != uses.end() && it->second > 0) return false;
  }
  return true;
}

// From the last op to the first: an op's users come after it (or inside a
// later op's regions), so they have been decided when it is.
int64_t sweep(Block* block, UseCounts& uses) {
  int64_t removed = 0;
  for (int i = block->num_ops() - 1; i >= 0; --i) {
    Op* op = block->ops()[i].get();
    if (is_pure(*op) && unused(*op, uses)) {
      removed += 1;
      for (const auto& r : op->regions()) removed += count_ops(r.get());
      drop_uses_of(op, uses);
      block->erase(op);
      continue;
    }
    for (int r = op->num_regions() - 1; r >= 0; --r) removed += sweep(op->region(r), uses);
  }
  return removed;
}

class DeadCodeElimination : public Pass {
 public:
  std::string name() const override { return "dce"; }
  std::string summary() const override { return "removes pure ops whose results are unused, in regions too"; }

  Expected<bool> run(Module& module, PassStats& stats) override {
    int64_t removed = 0;
    for (const auto& f : module.functions()) {
      UseCounts uses;
      count_uses_in(f->body(), uses);
      removed += sweep(f->body(), uses);
    }
    if (removed) stats.count("ops removed", removed);
    return removed > 0;
  }
};

}  // namespace

std::unique_ptr<Pass> create_dce(const PassOptions& options) {
  options.expect_only({});
  return std::make_unique<DeadCodeElimination>();
}

}  // namespace graphc
