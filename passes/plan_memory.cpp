// plan-memory: plans every function's memory (passes/memory_plan.h) and
// reports it; the IR is unchanged. Options bind symbolic dims
// (`plan-memory{seq=128}`); a function with a symbol left unbound is skipped
// with a remark naming the symbol.
//
// Counters per function: arena bytes, lower bound bytes, state bytes, state
// updated in place, results in place; the full report of each function is a
// remark (pass-dump --stats shows both, pass-dump --plan the report alone).
#include <fmt/format.h>

#include "passes/memory_plan.h"
#include "passes/pass.h"

namespace graphc {
namespace {

class PlanMemory : public Pass {
 public:
  explicit PlanMemory(SymbolBindings bindings) : bindings_(std::move(bindings)) {}
  std::string name() const override { return "plan-memory"; }
  std::string summary() const override {
    return "places every value: arena offsets from liveness, in-place results, state updated in place";
  }

  Expected<bool> run(Module& module, PassStats& stats) override {
    for (const auto& f : module.functions()) {
      auto plan = plan_memory(*f, bindings_);
      if (!plan.ok()) {
        stats.remark(fmt::format("@{} not planned: {}", f->name(), plan.error().message));
        continue;
      }
      const std::string fn = "@" + f->name() + " ";
      stats.count(fn + "arena bytes", plan->arena_bytes);
      stats.count(fn + "lower bound bytes", plan->lower_bound_bytes);
      stats.count(fn + "state updated in place", plan->state_updated_in_place);
      stats.count(fn + "results in place", plan->in_place);
      stats.remark(plan->report());
    }
    return false;
  }

 private:
  SymbolBindings bindings_;
};

}  // namespace

std::unique_ptr<Pass> create_plan_memory(const PassOptions& options) {
  SymbolBindings bindings;
  for (const auto& [key, value] : options.entries()) bindings[key] = options.get_int(key, 0);
  return std::make_unique<PlanMemory>(std::move(bindings));
}

}  // namespace graphc
