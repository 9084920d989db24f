// A module: module-level globals (weights and state) and functions.
//
// Weights are immutable and bound by name to checkpoint tensors. State is
// mutable and survives across calls (KV caches, trainable parameters,
// optimizer moments, RNG state). Functions read globals with `weight` and
// `state_get` ops; `state_set` stores a new value that becomes visible when the
// enclosing function call returns, so each call reads a consistent snapshot.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ir/function.h"
#include "ir/op.h"
#include "ir/type.h"

namespace graphc {

enum class GlobalKind { Weight, State };

struct Global {
  GlobalKind kind = GlobalKind::Weight;
  std::string name;
  TensorType type;
  int line = 0;
  // A derived weight names a function taking no arguments and returning this
  // global's type; its value is that function's result, computed once before
  // the first read (e.g. a folded LoRA weight). Empty for checkpoint weights.
  std::string initializer;
};

class Module {
 public:
  explicit Module(std::string name = "main") : name_(std::move(name)) {}
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  const std::string& name() const { return name_; }
  void set_name(std::string n) { name_ = std::move(n); }

  Function* add_function(std::string name);
  Function* function(const std::string& name) const;  // null if absent
  const std::vector<std::unique_ptr<Function>>& functions() const { return functions_; }
  void erase_function(const std::string& name);

  // Declares a global; throws GraphcError on a duplicate name.
  const Global& add_global(GlobalKind kind, std::string name, TensorType type, std::string initializer = {});
  const Global* global(const std::string& name) const;  // null if absent
  const std::deque<Global>& globals() const { return globals_; }
  void set_global_line(const std::string& name, int line);
  // Weight <-> state (weights-to-state makes weights trainable).
  void set_global_kind(const std::string& name, GlobalKind kind);

 private:
  std::string name_;
  // A deque, so the reference add_global returns (and any Global* a pass
  // holds) stays valid while more globals are declared.
  std::deque<Global> globals_;
  std::vector<std::unique_ptr<Function>> functions_;
};

// Visits every op of a block and of the regions nested in it, in order.
template <typename F>
void walk(Block* block, F&& fn) {
  for (const auto& op : block->ops()) {
    fn(op.get());
    for (const auto& r : op->regions()) walk(r.get(), fn);
  }
}

// Replaces every use of `from` inside `block` (and nested regions) with `to`.
void replace_all_uses(Block* block, Value* from, Value* to);
// Number of uses of `v` inside `block` (and nested regions).
int count_uses(Block* block, const Value* v);

}  // namespace graphc
