// weights-to-state: makes weights trainable. Every weight global matching the
// targets becomes a state global of the same name and type, and every
// `weight @W` op reading it a `state_get @W`: full fine-tuning trains the
// model's own parameters as state, which the host initialises from the
// checkpoint before the first step.
//
// Options: targets=GLOB|GLOB on weight names (default: every weight).
// Derived weights (a folded adapter) are left alone: they are computed.
//
// Stats: "weights made state", "reads rewritten".
#include "passes/lora_common.h"
#include "passes/pass.h"

namespace graphc {
namespace {

class WeightsToState : public Pass {
 public:
  explicit WeightsToState(std::vector<std::string> targets) : targets_(std::move(targets)) {}
  std::string name() const override { return "weights-to-state"; }
  std::string summary() const override { return "turns the target weights into state (full fine-tuning)"; }

  Expected<bool> run(Module& m, PassStats& stats) override {
    std::vector<std::string> chosen;
    for (const Global& g : m.globals())
      if (g.kind == GlobalKind::Weight && g.initializer.empty() && lora::matches_any(targets_, g.name))
        chosen.push_back(g.name);
    if (chosen.empty()) return false;
    for (const std::string& name : chosen) m.set_global_kind(name, GlobalKind::State);
    int rewritten = 0;
    for (const auto& f : m.functions()) {
      std::vector<Op*> reads;
      walk(f->body(), [&](Op* op) {
        if (op->name() == "weight" && !lora::global_read(op->result(0), "weight").empty() &&
            m.global(op->attr("name").as_symbol())->kind == GlobalKind::State)
          reads.push_back(op);
      });
      for (Op* op : reads) {
        Block* block = op->parent_block();
        Value* read = nullptr;
        lora::build_before(m, block, op, [&](Builder& b) { read = b.state_get(op->attr("name").as_symbol()); });
        replace_all_uses(f->body(), op->result(0), read);
        block->erase(op);
        ++rewritten;
      }
    }
    stats.count("weights made state", static_cast<int64_t>(chosen.size()));
    stats.count("reads rewritten", rewritten);
    return true;
  }

 private:
  std::vector<std::string> targets_;
};

}  // namespace

std::unique_ptr<Pass> create_weights_to_state(const PassOptions& options) {
  options.expect_only({"targets"});
  return std::make_unique<WeightsToState>(lora::split_globs(options.get("targets").value_or("*")));
}

}  // namespace graphc
