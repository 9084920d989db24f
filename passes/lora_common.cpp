#include "passes/lora_common.h"

#include "passes/pass_manager.h"

namespace graphc::lora {

std::vector<std::string> split_globs(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t bar = text.find('|', start);
    if (bar == std::string::npos) bar = text.size();
    if (bar > start) out.push_back(text.substr(start, bar - start));
    start = bar + 1;
  }
  return out;
}

bool matches_any(const std::vector<std::string>& globs, const std::string& name) {
  for (const std::string& g : globs)
    if (pass_name_matches(g, name)) return true;
  return false;
}

std::string global_read(const Value* v, const std::string& kind) {
  const Op* def = v ? v->defining_op() : nullptr;
  if (!def || def->name() != kind || !def->has_attr("name")) return "";
  return def->attr("name").as_symbol();
}

std::string projection_weight(const Op& op) {
  if (op.name() != "matmul" || op.num_operands() != 2) return "";
  if (op.has_attr("transpose_a") && op.attr_bool("transpose_a")) return "";
  if (!op.has_attr("transpose_b") || !op.attr_bool("transpose_b")) return "";
  if (op.operand(1)->rank() != 2) return "";
  return global_read(op.operand(1), "weight");
}

void build_before(Module& m, Block* block, Op* at, const std::function<void(Builder&)>& build) {
  const int first_new = block->num_ops();
  Builder b(m, block);
  build(b);
  std::vector<Op*> created;
  for (int i = first_new; i < block->num_ops(); ++i) created.push_back(block->ops()[i].get());
  for (Op* op : created) {
    std::unique_ptr<Op> owned = block->release(op);
    block->insert(std::move(owned), block->position_of(at));
  }
}

}  // namespace graphc::lora
