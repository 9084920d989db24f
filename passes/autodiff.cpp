#include "passes/autodiff.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "ir/block.h"
#include "ir/op_registry.h"
#include "passes/gradient_rules.h"

namespace graphc {
namespace {

std::string where(const Op& op) {
  return op.line() > 0 ? fmt::format("{} at line {}", op.name(), op.line()) : op.name();
}

bool uses_any(const Block& block, const std::set<const Value*>& values) {
  for (const auto& op : block.ops()) {
    for (const Value* v : op->operands())
      if (values.count(v)) return true;
    for (const auto& r : op->regions())
      if (uses_any(*r, values)) return true;
  }
  return false;
}

}  // namespace

Expected<std::vector<Val>> append_gradients(Builder& b, Val loss, const std::vector<Val>& wrt, Val seed) {
  Block* block = b.block();
  // Ops after the one defining the loss cannot change it (e.g. a loss loop
  // built on top of hidden states that are differentiated from).
  std::vector<Op*> forward;
  if (const Op* last = loss.v->defining_op())
    for (const auto& op : block->ops()) {
      forward.push_back(op.get());
      if (op.get() == last) break;
    }

  if (!is_floating(loss.type().dtype)) return Error{"autodiff: the loss must be floating-point, got " + loss.type().str()};
  if (!seed.v && loss.type().rank() != 0)
    return Error{"autodiff: the loss must be a scalar (or pass its gradient as the seed), got " + loss.type().str()};

  // Values that depend on a wrt value (forward), then those of them the loss
  // depends on (backward): only these carry gradients.
  std::set<const Value*> active;
  for (const Val& w : wrt)
    if (is_floating(w.type().dtype)) active.insert(w.v);
  for (Op* op : forward) {
    bool reads_active = false;
    for (const Value* v : op->operands()) reads_active |= active.count(v) != 0;
    for (const auto& r : op->regions()) reads_active |= uses_any(*r, active);
    if (!reads_active) continue;
    if (op->num_regions() > 0 || op->name() == "call")
      return Error{fmt::format("autodiff: no gradient through {} (it reads a value being differentiated)", where(*op))};
    for (int i = 0; i < op->num_results(); ++i)
      if (is_floating(op->result(i)->type().dtype)) active.insert(op->result(i));
  }
  if (!active.count(loss.v)) {
    std::vector<Val> zeros;
    for (const Val& w : wrt) zeros.push_back(b.constant(0.0, w.type()));
    return zeros;
  }
  std::set<const Value*> needed{loss.v};
  for (auto it = forward.rbegin(); it != forward.rend(); ++it) {
    Op* op = *it;
    bool produces_needed = false;
    for (int i = 0; i < op->num_results(); ++i) produces_needed |= needed.count(op->result(i)) != 0;
    if (!produces_needed) continue;
    for (Value* v : op->operands())
      if (active.count(v)) needed.insert(v);
  }

  // The reverse sweep: each op's rule turns its results' gradients into its
  // operands', which add up over all the uses of an operand.
  std::map<const Value*, Val> grads;
  grads[loss.v] = seed.v ? seed : b.scalar(1.0, loss.type().dtype);
  auto accumulate = [&](Value* v, Val g) {
    auto [it, fresh] = grads.try_emplace(v, g);
    if (!fresh) it->second = it->second + g;
  };
  try {
    for (auto it = forward.rbegin(); it != forward.rend(); ++it) {
      Op* op = *it;
      std::vector<Val> result_grads(op->num_results());
      bool any = false;
      for (int i = 0; i < op->num_results(); ++i)
        if (auto g = grads.find(op->result(i)); g != grads.end() && needed.count(op->result(i))) {
          result_grads[i] = g->second;
          any = true;
        }
      if (!any) continue;
      std::vector<bool> operand_needed;
      bool wants = false;
      for (Value* v : op->operands()) {
        operand_needed.push_back(needed.count(v) && active.count(v));
        wants |= operand_needed.back();
      }
      if (!wants) continue;
      const GradientRule* rule = GradientRules::instance().find(op->name());
      if (!rule) return Error{fmt::format("autodiff: no gradient rule for {}", where(*op))};
      std::vector<Val> operands, results;
      for (Value* v : op->operands()) operands.push_back(b.wrap(v));
      for (int i = 0; i < op->num_results(); ++i) results.push_back(b.wrap(op->result(i)));
      for (Val& g : result_grads)
        if (!g.v) g = Val{};
      GradientContext ctx{b, *op, operands, results, result_grads, operand_needed};
      std::vector<Val> operand_grads = (*rule)(ctx);
      if (operand_grads.size() != operands.size())
        return Error{fmt::format("autodiff: the rule for {} gave {} gradients for {} operands", op->name(),
                                 operand_grads.size(), operands.size())};
      for (size_t i = 0; i < operands.size(); ++i) {
        if (!operand_grads[i].v || !operand_needed[i]) continue;
        if (operand_grads[i].type() != operands[i].type())
          return Error{fmt::format("autodiff: the rule for {} gave {} for operand {} of type {}", where(*op),
                                   operand_grads[i].type().str(), i, operands[i].type().str())};
        accumulate(operands[i].v, operand_grads[i]);
      }
    }
  } catch (const std::exception& e) {
    return Error{e.what()};
  }

  std::vector<Val> out;
  for (const Val& w : wrt) {
    auto it = grads.find(w.v);
    out.push_back(it != grads.end() ? it->second : b.constant(0.0, w.type()));
  }
  return out;
}

}  // namespace graphc
