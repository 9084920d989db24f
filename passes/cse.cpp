// cse: merges identical pure ops, keeping the first.
//
// Matches
//
//     %a = mul %x, %y : f32[4]           %a = mul %x, %y : f32[4]
//     ...                        ->      ...
//     %b = mul %x, %y : f32[4]           (uses of %b read %a)
//
// where both ops have the same kind, the same operands in the same order, the
// same attributes and the same result types, and either no regions or
// regions that are the same op for op (block arguments and values defined
// inside correspond by position; values from outside must be the same).
//
// Scoping: values defined in a region are not visible outside it, so an op
// in a region may be replaced by an equivalent op before it in an enclosing
// block (which dominates it), never the other way round, and never by one in
// a sibling region. A region that uses nothing from outside stays closed: its
// ops are merged only with each other (a fused_elementwise body must not
// capture outer values, and the registry has no flag that says so).
//
// Guarantees: every use of a merged result reads a value computed by an
// identical op that dominates it, so results and state updates are unchanged.
//
// Refuses: ops with side effects (`state_set`, `call`, or an op whose regions
// contain one), terminators, and ops without results. Operands are compared
// in order: `add %x, %y` and `add %y, %x` are not merged. Two `state_get` of
// the same global are merged: both read the value at the start of the call.
#include <unordered_map>
#include <unordered_set>

#include "passes/pass.h"

namespace graphc {
namespace {

using ValueMap = std::unordered_map<const Value*, const Value*>;

bool same_blocks(const Block& a, const Block& b, ValueMap& corresponding);

// Whether two ops compute the same thing, given which values of a's
// surroundings correspond to which of b's.
bool same_ops(const Op& a, const Op& b, ValueMap& corresponding) {
  if (&a.def() != &b.def() || a.attrs() != b.attrs() || a.num_operands() != b.num_operands() ||
      a.num_results() != b.num_results() || a.num_regions() != b.num_regions())
    return false;
  for (int i = 0; i < a.num_operands(); ++i) {
    auto it = corresponding.find(a.operand(i));
    const Value* want = it == corresponding.end() ? a.operand(i) : it->second;
    if (want != b.operand(i)) return false;
  }
  for (int i = 0; i < a.num_results(); ++i)
    if (a.result(i)->type() != b.result(i)->type()) return false;
  for (int r = 0; r < a.num_regions(); ++r)
    if (!same_blocks(*a.region(r), *b.region(r), corresponding)) return false;
  for (int i = 0; i < a.num_results(); ++i) corresponding[a.result(i)] = b.result(i);
  return true;
}

bool same_blocks(const Block& a, const Block& b, ValueMap& corresponding) {
  if (a.num_args() != b.num_args() || a.num_ops() != b.num_ops()) return false;
  for (int i = 0; i < a.num_args(); ++i) {
    if (a.arg(i)->type() != b.arg(i)->type()) return false;
    corresponding[a.arg(i)] = b.arg(i);
  }
  for (int i = 0; i < a.num_ops(); ++i)
    if (!same_ops(*a.ops()[i], *b.ops()[i], corresponding)) return false;
  return true;
}

// A hash key that identical ops share; same_ops() decides.
std::string key_of(const Op& op) {
  std::string key = op.name();
  for (Value* v : op.operands()) key += " " + std::to_string(reinterpret_cast<uintptr_t>(v));
  for (const auto& [name, attr] : op.attrs())
    key += " " + name + "=" + std::to_string(static_cast<int>(attr.kind())) + ":" + attr.str();
  for (const auto& r : op.results()) key += " :" + r->type().str();
  for (const auto& r : op.regions()) key += " {" + std::to_string(r->num_ops()) + "}";
  return key;
}

void collect_defined(const Block& b, std::unordered_set<const Value*>& defined) {
  for (const auto& a : b.args()) defined.insert(a.get());
  for (const auto& op : b.ops()) {
    for (const auto& r : op->results()) defined.insert(r.get());
    for (const auto& r : op->regions()) collect_defined(*r, defined);
  }
}

// Whether no op in the op's regions reads a value defined outside them.
bool captures_nothing(const Op& op) {
  std::unordered_set<const Value*> inside;
  for (const auto& r : op.regions()) collect_defined(*r, inside);
  bool closed = true;
  for (const auto& r : op.regions())
    walk(r.get(), [&](Op* inner) {
      for (Value* v : inner->operands()) closed &= inside.count(v) != 0;
    });
  return closed;
}

class CommonSubexpressions {
 public:
  int64_t run(Block* body) {
    visit(body);
    return merged_;
  }

 private:
  void visit(Block* block) {
    std::vector<std::string> added;  // keys this scope added, to forget on the way out
    for (int i = 0; i < block->num_ops();) {
      Op* op = block->ops()[i].get();
      for (int k = 0; k < op->num_operands(); ++k) {
        auto it = replaced_.find(op->operand(k));
        if (it != replaced_.end()) op->set_operand(k, it->second);
      }
      if (op->num_regions() > 0 && captures_nothing(*op)) {
        auto outer = std::move(table_);
        table_.clear();
        for (const auto& r : op->regions()) visit(r.get());
        table_ = std::move(outer);
      } else {
        for (const auto& r : op->regions()) visit(r.get());
      }
      if (op->num_results() == 0 || !is_pure(*op)) {
        ++i;
        continue;
      }
      std::string key = key_of(*op);
      std::vector<Op*>& candidates = table_[key];
      Op* same = nullptr;
      for (Op* c : candidates) {
        ValueMap corresponding;
        if (same_ops(*op, *c, corresponding)) {
          same = c;
          break;
        }
      }
      if (!same) {
        candidates.push_back(op);
        added.push_back(std::move(key));
        ++i;
        continue;
      }
      // No Value is created while the pass runs, so a freed result's address
      // is never reused for another key of replaced_.
      for (int r = 0; r < op->num_results(); ++r) replaced_[op->result(r)] = same->result(r);
      merged_ += 1;
      block->erase(op);
    }
    for (auto it = added.rbegin(); it != added.rend(); ++it) {
      auto entry = table_.find(*it);
      entry->second.pop_back();
      if (entry->second.empty()) table_.erase(entry);
    }
  }

  std::unordered_map<std::string, std::vector<Op*>> table_;
  std::unordered_map<const Value*, Value*> replaced_;
  int64_t merged_ = 0;
};

class Cse : public Pass {
 public:
  std::string name() const override { return "cse"; }
  std::string summary() const override { return "merges identical pure ops (same kind, operands, attributes, types)"; }

  Expected<bool> run(Module& module, PassStats& stats) override {
    int64_t merged = 0;
    for (const auto& f : module.functions()) merged += CommonSubexpressions().run(f->body());
    if (merged) stats.count("ops merged", merged);
    return merged > 0;
  }
};

}  // namespace

std::unique_ptr<Pass> create_cse(const PassOptions& options) {
  options.expect_only({});
  return std::make_unique<Cse>();
}

}  // namespace graphc
