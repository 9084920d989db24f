#include "passes/fusion_pattern.h"

#include <fmt/format.h>

#include <algorithm>

#include "ir/op_registry.h"
#include "ir/printer.h"

namespace graphc {

Op* defined_by(const Value* v, std::string_view kind) {
  Op* d = v ? v->defining_op() : nullptr;
  return d && d->name() == kind ? d : nullptr;
}

std::optional<double> splat_constant(const Value* v) {
  const Op* c = defined_by(v, "constant");
  if (!c) return std::nullopt;
  const Attribute& value = c->attr("value");
  switch (value.kind()) {
    case AttrKind::Int:
    case AttrKind::Float:
      return value.as_float();
    case AttrKind::Floats: {
      const std::vector<double>& vs = value.as_floats();
      if (vs.empty() || std::any_of(vs.begin(), vs.end(), [&](double x) { return x != vs[0]; })) return std::nullopt;
      return vs[0];
    }
    default:
      return std::nullopt;
  }
}

bool is_splat(const Value* v, double want) {
  const std::optional<double> got = splat_constant(v);
  if (!got || !is_floating(v->dtype())) return false;
  return round_to_dtype(static_cast<float>(*got), v->dtype()) == round_to_dtype(static_cast<float>(want), v->dtype());
}

bool is_last_axis(int64_t axis, int rank) { return rank > 0 && (axis == -1 || axis == rank - 1); }

FusionRewriter::FusionRewriter(std::string pass_name, Function& fn, PassStats& stats)
    : pass_(std::move(pass_name)), fn_(fn), stats_(stats) {
  // Remarks name values as the pass's input prints them, so they can be
  // found in the dump of the stage before this pass.
  PrintedModule printed = print_function_with_locations(fn);
  names_ = std::move(printed.name_of_value);
}

FusionRewriter::~FusionRewriter() = default;

std::vector<Block*> FusionRewriter::blocks(const std::function<bool(const Op&)>& enter) const {
  std::vector<Block*> out{fn_.body()};
  for (size_t i = 0; i < out.size(); ++i)
    for (const auto& op : out[i]->ops())
      if (!enter || enter(*op))
        for (const auto& r : op->regions()) out.push_back(r.get());
  return out;
}

std::vector<Op*> FusionRewriter::snapshot(const Block& block) {
  std::vector<Op*> out;
  for (const auto& op : block.ops()) out.push_back(op.get());
  return out;
}

void FusionRewriter::index_users() {
  users_.clear();
  walk(fn_.body(), [&](Op* op) {
    for (Value* v : op->operands()) users_[v].push_back(op);
  });
  users_valid_ = true;
}

const std::vector<Op*>& FusionRewriter::users(const Value* v) {
  static const std::vector<Op*> kNone;
  if (!users_valid_) index_users();
  auto it = users_.find(v);
  return it == users_.end() ? kNone : it->second;
}

bool FusionRewriter::used_only_by(const Value* v, const std::vector<Op*>& pattern) {
  for (Op* u : users(v))
    if (std::find(pattern.begin(), pattern.end(), u) == pattern.end()) return false;
  return true;
}

Op* FusionRewriter::single_user(const Value* v) {
  const std::vector<Op*>& u = users(v);
  return u.size() == 1 ? u[0] : nullptr;
}

Op* FusionRewriter::user_of_kind(const Value* v, std::string_view kind, const std::function<bool(const Op&)>& pred) {
  Op* found = nullptr;
  for (Op* u : users(v)) {
    if (u->name() != kind || (pred && !pred(*u)) || u == found) continue;
    if (found) return nullptr;
    found = u;
  }
  return found;
}

std::string FusionRewriter::name(const Value* v) const {
  auto it = names_.find(v);
  if (it != names_.end()) return "%" + it->second;
  if (v->defining_op()) return "the result of " + v->defining_op()->name();
  return "a block argument";
}

void FusionRewriter::refuse(const Value* at, const std::string& why) {
  stats_.remark(fmt::format("{}: {} in @{} not fused: {}", pass_, name(at), fn_.name(), why));
}

Expected<Op*> FusionRewriter::insert_before(Op* at, const std::string& kind, std::vector<Value*> operands,
                                            AttrMap attrs) {
  return insert_before(at, std::make_unique<Op>(&OpRegistry::instance().get(kind), std::move(operands),
                                                std::move(attrs)));
}

Expected<Op*> FusionRewriter::insert_before(Op* at, std::unique_ptr<Op> op) {
  std::string problem = check_signature(*op);
  if (problem.empty()) {
    try {
      Expected<std::vector<TensorType>> types = op->def().infer(*op);
      if (!types.ok()) problem = types.error().message;
      else
        for (TensorType& t : *types) op->add_result(std::move(t));
    } catch (const std::exception& e) {
      problem = e.what();
    }
  }
  if (!problem.empty()) return Error{op->name() + ": " + problem};
  Block* block = at->parent_block();
  users_valid_ = false;
  return block->insert(std::move(op), block->position_of(at));
}

void FusionRewriter::replace(Value* old_value, Value* replacement, const std::vector<Op*>& pattern) {
  if (replacement->name().empty()) replacement->set_name(old_value->name());
  replace_all_uses(fn_.body(), old_value, replacement);
  index_users();

  std::vector<Op*> order(pattern.begin(), pattern.end());
  std::sort(order.begin(), order.end());
  order.erase(std::unique(order.begin(), order.end()), order.end());
  // Users come after what they use within a block: remove the latest first.
  std::sort(order.begin(), order.end(), [](const Op* a, const Op* b) {
    if (a->parent_block() != b->parent_block()) return a->parent_block() < b->parent_block();
    return a->parent_block()->position_of(a) > b->parent_block()->position_of(b);
  });
  std::unordered_set<const Op*> gone;
  for (Op* op : order) {
    bool dead = !op->def().has_side_effects && !op->def().is_terminator;
    for (const auto& r : op->results())
      for (const Op* u : users(r.get())) dead &= gone.count(u) != 0;
    if (!dead) continue;
    gone.insert(op);
    removed_set_.insert(op);
    removed_.push_back(op->parent_block()->release(op));
  }
  users_valid_ = false;
  stats_.count("fused");
}

}  // namespace graphc
