#include "passes/memory_plan.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

#include "ir/op_registry.h"
#include "runtime/human_bytes.h"

namespace graphc {
namespace {

int64_t align_up(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

bool may_write_over_operand(const Op& op) {
  const std::string& n = op.name();
  return op.def().is_elementwise || n == "fused_elementwise" || n == "rms_norm" || n == "rope";
}

class Planner {
 public:
  Planner(const Function& fn, const SymbolBindings& bindings, const PlanOptions& options)
      : fn_(fn), bindings_(bindings), options_(options) {}

  Expected<MemoryPlan> run() {
    plan_.function = fn_.name();
    number(*fn_.body());
    end_ = clock_;
    count_uses(*fn_.body());
    if (Status s = place_block(*fn_.body(), /*is_body=*/true); !s.ok()) return s.error();
    assign_offsets();
    return std::move(plan_);
  }

 private:
  // ---- program order ----
  // Every op gets a start and an end time; an op with regions ends after
  // everything in them. A value is defined at its op's end.
  void number(const Block& b) {
    for (const auto& op : b.ops()) {
      start_[op.get()] = clock_++;
      for (const auto& r : op->regions()) number(*r);
      end_of_[op.get()] = clock_++;
    }
  }

  void count_uses(const Block& b) {
    for (const auto& op : b.ops()) {
      if (op->name() == "state_get") ++state_gets_[op->attr("name").as_symbol()];
      for (Value* v : op->operands()) users_[v].push_back(op.get());
      for (const auto& r : op->regions()) count_uses(*r);
    }
  }

  // The time a use by `user` keeps `v` alive: the end of the ancestor of
  // `user` that sits in v's block (a loop repeats its body, so a value from
  // outside must live as long as the loop); the end of the function for a
  // value stored into state or returned.
  int64_t use_time(const Value* v, const Op* user) const {
    // state_set takes effect when the call returns: its value is read then.
    if (user->name() == "state_set") return end_;
    const Block* home = v->defining_op() ? v->defining_op()->parent_block() : v->owner_block();
    const Op* a = user;
    while (a->parent_block() != home) {
      const Op* up = a->parent_block()->parent_op();
      if (!up) break;
      a = up;
    }
    if (a->def().is_terminator && home == fn_.body()) return end_;  // function results live to the end
    return end_of_.at(a);
  }

  Expected<int64_t> bytes_of(const Value* v) const {
    for (const Dim& d : v->shape())
      if (!d.is_static() && !bindings_.count(d.symbol))
        return Error{fmt::format("plan-memory: @{}: a value of type {} has the unbound symbol '{}'", fn_.name(),
                                 v->type().str(), d.symbol)};
    int64_t n = dtype_bytes(v->dtype());
    for (int64_t d : substitute(v->shape(), bindings_)) n *= d;
    return n;
  }

  // ---- placement ----
  struct Buffer {
    int64_t bytes = 0, first = 0, last = 0, offset = 0;
    std::vector<const Value*> values;
  };

  const Value* root(const Value* v) const {
    for (auto it = alias_.find(v); it != alias_.end(); it = alias_.find(v)) v = it->second;
    return v;
  }

  Status add_arena(const Value* v, int64_t first) {
    auto bytes = bytes_of(v);
    if (!bytes.ok()) return bytes.error();
    ValuePlacement p{Placement::Arena};
    p.bytes = *bytes;
    p.first = first;
    p.last = first;
    for (const Op* u : users_[v]) p.last = std::max(p.last, use_time(v, u));
    plan_.placement[v] = p;
    plan_.order.push_back(v);
    buffer_of_[v] = static_cast<int>(buffers_.size());
    buffers_.push_back({p.bytes, p.first, p.last, 0, {v}});
    return {};
  }

  // Extends the buffer holding `v` to cover `last`.
  void extend(const Value* v, int64_t last) {
    Buffer& b = buffers_[buffer_of_.at(root(v))];
    b.last = std::max(b.last, last);
  }

  Status place_block(const Block& b, bool is_body) {
    const int64_t args_from = is_body ? 0 : start_.at(b.parent_op());
    for (int i = 0; i < b.num_args(); ++i) {
      const Value* a = b.arg(i);
      if (Status s = add_arena(a, args_from); !s.ok()) return s;
      // Carried values live over the whole region: each iteration rewrites them.
      if (!is_body) extend(a, end_of_.at(b.parent_op()));
    }
    for (const auto& op : b.ops()) {
      for (const auto& r : op->regions())
        if (Status s = place_block(*r, false); !s.ok()) return s;
      if (Status s = place_op(*op); !s.ok()) return s;
    }
    return {};
  }

  Status place_op(const Op& op) {
    const std::string& name = op.name();
    const int64_t t = end_of_.at(&op);
    if (op.num_results() == 0) return {};
    const Value* r = op.result(0);
    auto bytes = bytes_of(r);
    if (!bytes.ok()) return bytes.error();
    auto outside = [&](Placement kind, std::string global, int64_t& counter) {
      ValuePlacement p{kind};
      p.bytes = *bytes;
      p.global = std::move(global);
      plan_.placement[r] = p;
      plan_.order.push_back(r);
      counter += *bytes;
    };
    if (name == "weight") {
      outside(Placement::Weight, op.attr("name").as_symbol(), plan_.weight_bytes);
      return {};
    }
    if (name == "state_get") {
      outside(Placement::State, op.attr("name").as_symbol(), plan_.state_bytes);
      return {};
    }
    if (name == "constant") {
      outside(Placement::Constant, "", plan_.constant_bytes);
      return {};
    }
    if (name == "reshape") {
      const Value* from = op.operand(0);
      ValuePlacement p = plan_.placement.at(root(from));
      p.kind = Placement::Alias;
      p.alias_of = from;
      plan_.placement[r] = p;
      plan_.order.push_back(r);
      alias_[r] = from;
      // The viewed bytes live as long as the view is used.
      if (buffer_of_.count(root(from)))
        for (const Op* u : users_[r]) extend(from, use_time(r, u));
      return {};
    }
    if (const std::string* state = updates_state(op)) {
      ValuePlacement p{Placement::State};
      p.bytes = *bytes;
      p.global = *state;
      plan_.placement[r] = p;
      plan_.order.push_back(r);
      ++plan_.state_updated_in_place;
      return {};
    }
    for (int i = 0; i < op.num_results(); ++i)
      if (Status s = add_arena(op.result(i), t); !s.ok()) return s;
    if (options_.in_place && op.num_results() == 1 && may_write_over_operand(op)) try_in_place(op);
    return {};
  }

  // The state S when `op` is dynamic_update_slice(state_get S, ...), that
  // state_get is S's only one and this its only use, and the result is
  // stored back into S: the update can be written into S's region.
  const std::string* updates_state(const Op& op) {
    if (op.name() != "dynamic_update_slice") return nullptr;
    const Op* get = op.operand(0)->defining_op();
    if (!get || get->name() != "state_get") return nullptr;
    const std::string& state = get->attr("name").as_symbol();
    if (state_gets_[state] != 1 || users_[op.operand(0)].size() != 1) return nullptr;
    for (const Op* u : users_[op.result(0)])
      if (u->name() == "state_set" && u->attr("name").as_symbol() == state) return &state;
    return nullptr;
  }

  // The result takes over the buffer of an operand that dies at this op:
  // same size, an arena buffer that is not a block argument (arguments are
  // rewritten by their loop), and no later use of it or of any of its views.
  void try_in_place(const Op& op) {
    const Value* r = op.result(0);
    const int64_t t = end_of_.at(&op);
    for (const Value* x : op.operands()) {
      const Value* base = root(x);
      auto it = buffer_of_.find(base);
      if (it == buffer_of_.end() || base->defining_op() == nullptr) continue;
      Buffer& b = buffers_[it->second];
      if (b.last != t || b.bytes != plan_.placement.at(r).bytes || x->dtype() != r->dtype()) continue;
      Buffer& mine = buffers_[buffer_of_.at(r)];
      b.last = std::max(b.last, mine.last);
      b.values.push_back(r);
      mine.bytes = 0;  // merged
      buffer_of_[r] = it->second;
      plan_.placement[r].in_place_of = x;
      ++plan_.in_place;
      return;
    }
  }

  // ---- offsets: greedy by size, best fit among the buffers live at once ----
  void assign_offsets() {
    std::vector<int> order;
    for (int i = 0; i < static_cast<int>(buffers_.size()); ++i)
      if (buffers_[i].bytes > 0) order.push_back(i);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return buffers_[a].bytes > buffers_[b].bytes; });
    std::vector<int> placed;
    for (int i : order) {
      Buffer& b = buffers_[i];
      const int64_t size = align_up(b.bytes, options_.alignment);
      std::vector<std::pair<int64_t, int64_t>> busy;  // [offset, end) of buffers live at the same time
      for (int j : placed) {
        const Buffer& o = buffers_[j];
        if (o.first <= b.last && b.first <= o.last) busy.emplace_back(o.offset, o.offset + align_up(o.bytes, options_.alignment));
      }
      std::sort(busy.begin(), busy.end());
      int64_t best = -1, best_gap = INT64_MAX, at = 0;
      for (const auto& [from, to] : busy) {
        if (from - at >= size && from - at < best_gap) {
          best = at;
          best_gap = from - at;
        }
        at = std::max(at, to);
      }
      b.offset = best >= 0 ? best : at;
      plan_.arena_bytes = std::max(plan_.arena_bytes, b.offset + size);
      placed.push_back(i);
    }
    for (const Buffer& b : buffers_) {
      if (b.bytes == 0) continue;
      for (const Value* v : b.values) {
        ValuePlacement& p = plan_.placement.at(v);
        p.offset = b.offset;
        p.first = std::min(p.first, b.first);
        p.last = b.last;
      }
    }
    for (auto& [v, p] : plan_.placement)
      if (p.kind == Placement::Alias && plan_.placement.at(root(v)).kind == Placement::Arena)
        p.offset = plan_.placement.at(root(v)).offset;
    // The lower bound: the largest sum of live buffers at any time.
    std::map<int64_t, int64_t> delta;
    for (const Buffer& b : buffers_) {
      if (b.bytes == 0) continue;
      delta[b.first] += b.bytes;
      delta[b.last + 1] -= b.bytes;
    }
    int64_t live = 0;
    for (const auto& [time, d] : delta) {
      live += d;
      plan_.lower_bound_bytes = std::max(plan_.lower_bound_bytes, live);
    }
  }

  const Function& fn_;
  const SymbolBindings& bindings_;
  PlanOptions options_;
  MemoryPlan plan_;
  int64_t clock_ = 0, end_ = 0;
  std::unordered_map<const Op*, int64_t> start_, end_of_;
  std::unordered_map<const Value*, std::vector<const Op*>> users_;
  std::map<std::string, int> state_gets_;
  std::unordered_map<const Value*, const Value*> alias_;
  std::vector<Buffer> buffers_;
  std::unordered_map<const Value*, int> buffer_of_;
};

std::string label(const Value* v) {
  std::string what = v->defining_op() ? v->defining_op()->name() : "argument";
  return (v->name().empty() ? "" : "%" + v->name() + " ") + "(" + what + ")";
}

}  // namespace

Expected<MemoryPlan> plan_memory(const Function& fn, const SymbolBindings& bindings, const PlanOptions& options) {
  return Planner(fn, bindings, options).run();
}

std::string MemoryPlan::report() const {
  std::string out = fmt::format(
      "@{}: arena {}, lower bound {} ({:.1f}%), weights {}, state {} ({} updated in place), constants {}, "
      "{} results in place\n",
      function, human_bytes(arena_bytes), human_bytes(lower_bound_bytes),
      arena_bytes ? 100.0 * double(lower_bound_bytes) / double(arena_bytes) : 100.0, human_bytes(weight_bytes),
      human_bytes(state_bytes), state_updated_in_place, human_bytes(constant_bytes), in_place);
  for (const Value* v : order) {
    const ValuePlacement& p = placement.at(v);
    if (p.kind != Placement::Arena) continue;
    out += fmt::format("  {:<28} {:<18} offset {:>10}  {:>10}  live [{}, {}]{}\n", label(v), v->type().str(),
                       p.offset, human_bytes(p.bytes), p.first, p.last,
                       p.in_place_of ? "  in place of " + label(p.in_place_of) : "");
  }
  return out;
}

std::string MemoryPlan::to_json() const {
  nlohmann::json values = nlohmann::json::array();
  const char* kinds[] = {"arena", "weight", "state", "constant", "alias"};
  for (const Value* v : order) {
    const ValuePlacement& p = placement.at(v);
    nlohmann::json j{{"value", label(v)}, {"type", v->type().str()}, {"place", kinds[int(p.kind)]}, {"bytes", p.bytes}};
    if (p.kind == Placement::Arena || p.kind == Placement::Alias) j["offset"] = p.offset;
    if (p.kind == Placement::Arena) j["live"] = {p.first, p.last};
    if (!p.global.empty()) j["global"] = p.global;
    if (p.in_place_of) j["in_place_of"] = label(p.in_place_of);
    values.push_back(j);
  }
  return nlohmann::json{{"function", function},
                        {"arena_bytes", arena_bytes},
                        {"lower_bound_bytes", lower_bound_bytes},
                        {"weight_bytes", weight_bytes},
                        {"state_bytes", state_bytes},
                        {"constant_bytes", constant_bytes},
                        {"values", values}}
      .dump();
}

}  // namespace graphc
