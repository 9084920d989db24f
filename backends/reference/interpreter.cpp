#include "backends/reference/interpreter.h"

#include <fmt/format.h>

#include <unordered_map>

#include "ir/op_registry.h"

namespace graphc {
namespace {

constexpr int kMaxCallDepth = 256;

// An error that already names the op it happened in.
class OpFailure : public GraphcError {
 public:
  using GraphcError::GraphcError;
};

std::string describe(const Op& op) {
  std::string where = op.line() > 0 ? fmt::format("line {}: ", op.line()) : "";
  std::string results;
  for (int i = 0; i < op.num_results(); ++i) {
    const std::string& n = op.result(i)->name();
    if (!n.empty()) results += (results.empty() ? "%" : ", %") + n;
  }
  return where + op.name() + (results.empty() ? "" : " " + results);
}

}  // namespace

// One activation of a function: its symbol bindings, its values, the state
// snapshot it reads and the state updates it will publish on return.
class ReferenceInterpreter::Call : public ReferenceContext {
 public:
  Call(ReferenceInterpreter& interp, const Function& fn, int depth)
      : interp_(interp), fn_(fn), depth_(depth), state_at_entry_(interp.state_) {}

  std::vector<TensorPtr> run(std::vector<TensorPtr> args) {
    bind_params(args);
    std::vector<TensorPtr> results = run_region(*fn_.body(), std::move(args));
    for (auto& [name, value] : pending_state_) interp_.state_[name] = std::move(value);
    return results;
  }

  std::vector<int64_t> result_shape(const Op& op, int i) override {
    return substitute(op.result(i)->shape(), bindings_);
  }

  std::vector<TensorPtr> run_region(const Block& region, std::vector<TensorPtr> args) override {
    for (int i = 0; i < region.num_args(); ++i) env_[region.arg(i)] = std::move(args[i]);
    for (const auto& op : region.ops()) {
      if (op->def().is_terminator) {
        std::vector<TensorPtr> out;
        for (Value* v : op->operands()) out.push_back(lookup(v));
        return out;
      }
      execute(*op);
    }
    throw GraphcError("region has no terminator");
  }

  std::vector<TensorPtr> call(const std::string& function, std::vector<TensorPtr> args) override {
    return interp_.call(function, std::move(args), depth_ + 1);
  }
  TensorPtr weight(const std::string& name) override { return interp_.weight(name); }
  TensorPtr state_at_entry(const std::string& name) override {
    auto it = state_at_entry_.find(name);
    if (it != state_at_entry_.end()) return it->second;
    TensorPtr initial = interp_.state_ptr(name);
    state_at_entry_[name] = initial;
    return initial;
  }
  void set_state(const std::string& name, TensorPtr value) override { pending_state_[name] = std::move(value); }
  bool emit(const std::string& channel, const TensorPtr& value) override {
    return interp_.emit_handler_ && interp_.emit_handler_(channel, *value);
  }

 private:
  void bind_params(const std::vector<TensorPtr>& args) {
    if (static_cast<int>(args.size()) != fn_.num_params())
      throw GraphcError(fmt::format("@{} takes {} arguments, {} given", fn_.name(), fn_.num_params(), args.size()));
    for (int i = 0; i < fn_.num_params(); ++i) {
      const TensorType& want = fn_.param(i)->type();
      const HostTensor& got = *args[i];
      bool ok = want.dtype == got.dtype() && want.rank() == got.rank();
      for (int d = 0; ok && d < want.rank(); ++d) {
        const Dim& dim = want.shape[d];
        if (dim.is_static()) {
          ok = dim.value == got.dim(d);
        } else {
          auto [it, inserted] = bindings_.emplace(dim.symbol, got.dim(d));
          ok = inserted || it->second == got.dim(d);
        }
      }
      if (!ok)
        throw GraphcError(fmt::format("argument {} of @{} must be {}, got {}", i, fn_.name(), want.str(),
                                      got.type().str()));
    }
  }

  TensorPtr lookup(const Value* v) {
    auto it = env_.find(v);
    if (it == env_.end()) throw GraphcError("value used before it is defined");
    return it->second;
  }

  void execute(const Op& op) {
    try {
      const ReferenceKernel* kernel = ReferenceKernels::instance().find(op.name());
      if (!kernel) throw GraphcError("no reference semantics for op '" + op.name() + "'");
      Inputs inputs;
      inputs.reserve(op.num_operands());
      for (Value* v : op.operands()) inputs.push_back(lookup(v));
      KernelResults results = (*kernel)(op, inputs, *this);
      if (static_cast<int>(results.values.size()) != op.num_results())
        throw GraphcError(fmt::format("produced {} results, expected {}", results.values.size(), op.num_results()));
      for (int i = 0; i < op.num_results(); ++i) {
        const TensorPtr& r = results.values[i];
        if (r->dtype() != op.result(i)->dtype() || r->shape() != result_shape(op, i))
          throw GraphcError(fmt::format("result {} is {}, expected {}", i, r->type().str(),
                                        op.result(i)->type().str()));
        env_[op.result(i)] = r;
      }
    } catch (const OpFailure&) {
      throw;
    } catch (const std::exception& e) {
      throw OpFailure(fmt::format("in @{}, {}: {}", fn_.name(), describe(op), e.what()));
    }
  }

  ReferenceInterpreter& interp_;
  const Function& fn_;
  int depth_;
  SymbolBindings bindings_;
  std::unordered_map<const Value*, TensorPtr> env_;
  std::map<std::string, TensorPtr> state_at_entry_;
  std::map<std::string, TensorPtr> pending_state_;
};

ReferenceInterpreter::ReferenceInterpreter(const Module& module) : module_(module) {}

void ReferenceInterpreter::set_weight(const std::string& name, HostTensor value) {
  weights_[name] = std::make_shared<const HostTensor>(std::move(value));
}

void ReferenceInterpreter::set_state(const std::string& name, HostTensor value) {
  state_[name] = std::make_shared<const HostTensor>(std::move(value));
}

const HostTensor& ReferenceInterpreter::state(const std::string& name) { return *state_ptr(name); }

TensorPtr ReferenceInterpreter::state_ptr(const std::string& name) {
  auto it = state_.find(name);
  if (it != state_.end()) return it->second;
  const Global* g = module_.global(name);
  if (!g || g->kind != GlobalKind::State) throw GraphcError("unknown state @" + name);
  TensorPtr zeros = std::make_shared<const HostTensor>(g->type.dtype, to_static(g->type.shape));
  state_[name] = zeros;
  return zeros;
}

TensorPtr ReferenceInterpreter::weight(const std::string& name) {
  auto it = weights_.find(name);
  if (it != weights_.end()) return it->second;
  const Global* g = module_.global(name);
  if (!g || g->kind != GlobalKind::Weight) throw GraphcError("unknown weight @" + name);
  if (!g->initializer.empty()) {
    // A derived weight: computed by its initializer on first read, then cached
    // like a loaded one (a backend materialises it once at load time).
    for (const std::string& c : computing_)
      if (c == name) throw GraphcError(fmt::format("derived weight @{} depends on itself", name));
    computing_.push_back(name);
    std::vector<TensorPtr> r;
    try {
      r = call(g->initializer, {}, 0);
    } catch (...) {
      computing_.pop_back();
      throw;
    }
    computing_.pop_back();
    if (r.size() != 1 || r[0]->type() != g->type)
      throw GraphcError(fmt::format("initializer @{} of weight @{} does not return {}", g->initializer, name,
                                    g->type.str()));
    weights_[name] = r[0];
    return r[0];
  }
  if (!loader_) throw GraphcError("weight @" + name + " is not bound");
  Expected<HostTensor> loaded = loader_(*g);
  if (!loaded.ok()) throw GraphcError(loaded.error().message);
  if (loaded->type() != g->type)
    throw GraphcError(fmt::format("weight @{} is {}, the module declares {}", name, loaded->type().str(),
                                  g->type.str()));
  TensorPtr p = std::make_shared<const HostTensor>(std::move(loaded).take());
  weights_[name] = p;
  return p;
}

std::vector<TensorPtr> ReferenceInterpreter::call(const std::string& function, std::vector<TensorPtr> args,
                                                  int depth) {
  if (depth > kMaxCallDepth) throw GraphcError("call depth exceeds " + std::to_string(kMaxCallDepth));
  const Function* fn = module_.function(function);
  if (!fn) throw GraphcError("unknown function @" + function);
  Call activation(*this, *fn, depth);
  return activation.run(std::move(args));
}

Expected<std::vector<HostTensor>> ReferenceInterpreter::run(const std::string& function,
                                                             const std::vector<HostTensor>& args) {
  try {
    std::vector<TensorPtr> shared;
    for (const HostTensor& a : args) shared.push_back(std::make_shared<const HostTensor>(a));
    std::vector<HostTensor> out;
    for (const TensorPtr& r : call(function, std::move(shared), 0)) out.push_back(*r);
    return out;
  } catch (const std::exception& e) {
    return Error{e.what()};
  }
}

}  // namespace graphc
