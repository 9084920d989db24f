// Ownership and navigation of the IR objects: blocks own ops, ops own results
// and regions, functions own their body, modules own functions.
#include "ir/module.h"

#include <algorithm>

#include "ir/op_registry.h"

namespace graphc {

// ---- Block -----------------------------------------------------------------

Block::~Block() = default;

Value* Block::add_arg(TensorType type, std::string name) {
  auto v = std::make_unique<Value>(std::move(type), std::move(name));
  v->block_ = this;
  v->index_ = static_cast<int>(args_.size());
  args_.push_back(std::move(v));
  return args_.back().get();
}

Op* Block::terminator() const {
  if (ops_.empty() || !ops_.back()->def().is_terminator) return nullptr;
  return ops_.back().get();
}

Op* Block::insert(std::unique_ptr<Op> op, int pos) {
  op->parent_ = this;
  Op* raw = op.get();
  if (pos < 0 || pos >= static_cast<int>(ops_.size())) ops_.push_back(std::move(op));
  else ops_.insert(ops_.begin() + pos, std::move(op));
  return raw;
}

int Block::position_of(const Op* op) const {
  for (size_t i = 0; i < ops_.size(); ++i)
    if (ops_[i].get() == op) return static_cast<int>(i);
  return -1;
}

std::unique_ptr<Op> Block::release(Op* op) {
  const int pos = position_of(op);
  if (pos < 0) throw GraphcError("op is not in this block");
  std::unique_ptr<Op> out = std::move(ops_[pos]);
  ops_.erase(ops_.begin() + pos);
  out->parent_ = nullptr;
  return out;
}

void Block::erase(Op* op) { release(op); }

Function* Block::parent_function() const {
  const Block* b = this;
  while (b->parent_op_) {
    b = b->parent_op_->parent_block();
    if (!b) return nullptr;
  }
  return b->function_;
}

// ---- Op --------------------------------------------------------------------

Op::Op(const OpDef* def, std::vector<Value*> operands, AttrMap attrs)
    : def_(def), operands_(std::move(operands)), attrs_(std::move(attrs)) {}

const std::string& Op::name() const { return def_->name; }

const Attribute& Op::attr(const std::string& k) const {
  auto it = attrs_.find(k);
  if (it != attrs_.end()) return it->second;
  const AttrSpec* spec = def_->find_attr(k);
  if (spec && spec->default_value) return *spec->default_value;
  throw GraphcError(name() + ": missing attribute '" + k + "'");
}

Value* Op::add_result(TensorType type, std::string name) {
  auto v = std::make_unique<Value>(std::move(type), std::move(name));
  v->def_ = this;
  v->index_ = static_cast<int>(results_.size());
  results_.push_back(std::move(v));
  return results_.back().get();
}

Block* Op::add_region() {
  regions_.push_back(std::make_unique<Block>());
  regions_.back()->parent_op_ = this;
  return regions_.back().get();
}

Function* Op::parent_function() const { return parent_ ? parent_->parent_function() : nullptr; }

Module* Op::parent_module() const {
  Function* f = parent_function();
  return f ? f->parent_module() : nullptr;
}

// ---- Function and Module ---------------------------------------------------

Function::Function(std::string name) : name_(std::move(name)), body_(std::make_unique<Block>()) {
  body_->function_ = this;
}

Function* Module::add_function(std::string name) {
  if (function(name)) throw GraphcError("function @" + name + " is defined twice");
  functions_.push_back(std::make_unique<Function>(std::move(name)));
  functions_.back()->module_ = this;
  return functions_.back().get();
}

Function* Module::function(const std::string& name) const {
  for (const auto& f : functions_)
    if (f->name() == name) return f.get();
  return nullptr;
}

void Module::erase_function(const std::string& name) {
  std::erase_if(functions_, [&](const auto& f) { return f->name() == name; });
}

const Global& Module::add_global(GlobalKind kind, std::string name, TensorType type, std::string initializer) {
  if (global(name)) throw GraphcError("global @" + name + " is declared twice");
  globals_.push_back(Global{kind, std::move(name), std::move(type), 0, std::move(initializer)});
  return globals_.back();
}

const Global* Module::global(const std::string& name) const {
  for (const Global& g : globals_)
    if (g.name == name) return &g;
  return nullptr;
}

void Module::set_global_line(const std::string& name, int line) {
  for (Global& g : globals_)
    if (g.name == name) g.line = line;
}

void Module::set_global_kind(const std::string& name, GlobalKind kind) {
  for (Global& g : globals_)
    if (g.name == name) g.kind = kind;
}

void replace_all_uses(Block* block, Value* from, Value* to) {
  walk(block, [&](Op* op) {
    for (int i = 0; i < op->num_operands(); ++i)
      if (op->operand(i) == from) op->set_operand(i, to);
  });
}

int count_uses(Block* block, const Value* v) {
  int n = 0;
  walk(block, [&](Op* op) {
    for (Value* o : op->operands()) n += (o == v);
  });
  return n;
}

}  // namespace graphc
