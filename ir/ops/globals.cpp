// Access to module globals: `weight` reads an immutable weight, `state_get`
// reads a state global's value at the start of the current call, and
// `state_set` stores the value it will have when the call returns.
#include "ir/module.h"
#include "ir/op_registry.h"

namespace graphc {
namespace {

Expected<const Global*> lookup(const Op& op, GlobalKind kind) {
  const Module* m = op.parent_module();
  const std::string& name = op.attr("name").as_symbol();
  const Global* g = m ? m->global(name) : nullptr;
  const char* want = kind == GlobalKind::Weight ? "weight" : "state";
  if (!g) return infer_error("unknown " + std::string(want) + " @" + name);
  if (g->kind != kind) return infer_error("@" + name + " is not a " + want);
  return g;
}

}  // namespace

void register_global_ops(OpRegistry& r) {
  const AttrSpec name_attr{"name", AttrKind::Symbol, std::nullopt, "the global"};
  r.add(OpDef{.name = "weight",
              .summary = "reads a weight (bound by name to a checkpoint tensor)",
              .attrs = {name_attr},
              .infer = [](const Op& op) -> Expected<std::vector<TensorType>> {
                auto g = lookup(op, GlobalKind::Weight);
                if (!g.ok()) return g.error();
                return std::vector<TensorType>{(*g)->type};
              }});
  r.add(OpDef{.name = "state_get",
              .summary = "reads a state global as it was when the call began",
              .attrs = {name_attr},
              .infer = [](const Op& op) -> Expected<std::vector<TensorType>> {
                auto g = lookup(op, GlobalKind::State);
                if (!g.ok()) return g.error();
                return std::vector<TensorType>{(*g)->type};
              }});
  r.add(OpDef{.name = "state_set",
              .summary = "sets a state global's value for after the call",
              .min_operands = 1,
              .max_operands = 1,
              .attrs = {name_attr},
              .has_side_effects = true,
              .infer = [](const Op& op) -> Expected<std::vector<TensorType>> {
                auto g = lookup(op, GlobalKind::State);
                if (!g.ok()) return g.error();
                if (op.operand(0)->type() != (*g)->type)
                  return infer_error("value is " + op.operand(0)->type().str() + " but @" + (*g)->name +
                                     " is " + (*g)->type.str());
                return std::vector<TensorType>{};
              }});
}

}  // namespace graphc
