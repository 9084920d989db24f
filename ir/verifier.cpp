#include "ir/verifier.h"

#include <fmt/format.h>

#include <set>
#include <unordered_set>

#include "ir/op_registry.h"
#include "ir/printer.h"

namespace graphc {
namespace {

class Verifier {
 public:
  explicit Verifier(const Module& m) : module_(m) {}

  Status run() {
    for (const Global& g : module_.globals())
      if (!is_static(g.type.shape))
        return fail_at(g.line, fmt::format("global @{}: shape {} must be static", g.name, shape_str(g.type.shape)));
    for (const Global& g : module_.globals()) {
      Status s = verify_initializer(g);
      if (!s.ok()) return s;
    }
    for (const auto& f : module_.functions()) {
      Status s = verify_function(*f);
      if (!s.ok()) return s;
    }
    return Status::success();
  }

 private:
  // A derived weight's initializer: an existing function with no parameters
  // returning exactly the global's type.
  Status verify_initializer(const Global& g) {
    if (g.initializer.empty()) return Status::success();
    if (g.kind != GlobalKind::Weight)
      return fail_at(g.line, fmt::format("global @{}: only weights may have an initializer", g.name));
    const Function* f = module_.function(g.initializer);
    if (!f)
      return fail_at(g.line, fmt::format("weight @{}: initializer @{} is not a function of the module", g.name,
                                         g.initializer));
    if (f->num_params() != 0)
      return fail_at(g.line, fmt::format("weight @{}: initializer @{} must take no arguments, it takes {}", g.name,
                                         g.initializer, f->num_params()));
    if (f->result_types().size() != 1 || !(f->result_types()[0] == g.type))
      return fail_at(g.line, fmt::format("weight @{}: initializer @{} must return exactly {}", g.name,
                                         g.initializer, g.type.str()));
    return Status::success();
  }

  Status verify_function(const Function& f) {
    function_ = &f;
    symbols_.clear();
    for (int i = 0; i < f.num_params(); ++i)
      for (const Dim& d : f.param(i)->shape())
        if (d.is_symbolic()) symbols_.insert(d.symbol);
    for (const TensorType& t : f.result_types()) {
      Status s = check_symbols_bound(t, nullptr);
      if (!s.ok()) return s;
    }
    visible_.clear();
    Op* term = f.body()->terminator();
    if (!term || term->name() != "return")
      return fail_at(f.line(), fmt::format("function @{}: body must end with return", f.name()));
    return verify_block(*f.body(), /*in_region=*/false);
  }

  Status verify_block(const Block& b, bool in_region) {
    std::vector<const Value*> added;
    for (const auto& a : b.args()) {
      visible_.insert(a.get());
      added.push_back(a.get());
      Status s = check_symbols_bound(a->type(), nullptr);
      if (!s.ok()) return s;
    }
    for (int i = 0; i < b.num_ops(); ++i) {
      const Op& op = *b.ops()[i];
      const bool last = i + 1 == b.num_ops();
      if (op.def().is_terminator != last)
        return fail(op, last ? "a block must end with a terminator (return or yield)"
                             : op.name() + " must be the last op of its block");
      if (last) {
        const char* want = in_region ? "yield" : "return";
        if (op.name() != want)
          return fail(op, fmt::format("{} ends a {}; expected {}", op.name(), in_region ? "region" : "function", want));
      }
      Status s = verify_op(op);
      if (!s.ok()) return s;
      if (last && !in_region) {
        s = check_return(op);  // after verify_op has checked the operands are in scope
        if (!s.ok()) return s;
      }
      for (const auto& r : op.results()) {
        visible_.insert(r.get());
        added.push_back(r.get());
      }
    }
    for (const Value* v : added) visible_.erase(v);
    return Status::success();
  }

  Status check_return(const Op& op) {
    const auto& want = function_->result_types();
    bool ok = static_cast<int>(want.size()) == op.num_operands();
    for (int i = 0; ok && i < op.num_operands(); ++i) ok = op.operand(i)->type() == want[i];
    if (ok) return Status::success();
    std::string got;
    for (Value* v : op.operands()) got += (got.empty() ? "" : ", ") + v->type().str();
    std::string exp;
    for (const TensorType& t : want) exp += (exp.empty() ? "" : ", ") + t.str();
    return fail(op, fmt::format("returns ({}) but @{} declares ({})", got, function_->name(), exp));
  }

  Status verify_op(const Op& op) {
    const OpDef& def = op.def();
    for (int i = 0; i < op.num_operands(); ++i)
      if (!visible_.count(op.operand(i)))
        return fail(op, fmt::format("operand {} is used before it is defined or outside its scope", i));
    if (std::string problem = check_signature(op); !problem.empty()) return fail(op, problem);
    for (const auto& r : op.regions()) {
      Status s = verify_block(*r, /*in_region=*/true);
      if (!s.ok()) return s;
    }
    Expected<std::vector<TensorType>> inferred = Error{};
    try {
      inferred = def.infer(op);
    } catch (const std::exception& e) {
      return fail(op, e.what());
    }
    if (!inferred.ok()) return fail(op, inferred.error().message);
    if (static_cast<int>(inferred->size()) != op.num_results())
      return fail(op, fmt::format("has {} results, expected {}", op.num_results(), inferred->size()));
    for (int i = 0; i < op.num_results(); ++i) {
      if (op.result(i)->type() != (*inferred)[i])
        return fail(op, fmt::format("result {} is declared {} but is {}", i, op.result(i)->type().str(),
                                    (*inferred)[i].str()));
      Status s = check_symbols_bound(op.result(i)->type(), &op);
      if (!s.ok()) return s;
    }
    return Status::success();
  }

  // Every symbolic dim must come from a parameter, so a call can bind it.
  Status check_symbols_bound(const TensorType& t, const Op* op) {
    for (const Dim& d : t.shape)
      if (d.is_symbolic() && !symbols_.count(d.symbol)) {
        std::string msg = fmt::format("dim '{}' in {} is not bound by a parameter of @{}", d.symbol, t.str(),
                                      function_->name());
        return op ? fail(*op, msg) : fail_at(function_->line(), msg);
      }
    return Status::success();
  }

  Status fail(const Op& op, const std::string& msg) {
    int line = op.line();
    std::string name;
    if (line == 0 || op.num_results() > 0) {
      const PrintedModule& p = printed();
      if (line == 0) {
        auto it = p.line_of_op.find(&op);
        if (it != p.line_of_op.end()) line = it->second;
      }
      if (op.num_results() > 0) {
        auto it = p.name_of_value.find(op.result(0));
        if (it != p.name_of_value.end()) name = " %" + it->second;
      }
    }
    return Error{fmt::format("line {}: {}{}: {}", line, op.name(), name, msg)};
  }

  Status fail_at(int line, const std::string& msg) {
    return Error{line > 0 ? fmt::format("line {}: {}", line, msg) : msg};
  }

  const PrintedModule& printed() {
    if (!printed_) printed_ = print_module_with_locations(module_);
    return *printed_;
  }

  const Module& module_;
  const Function* function_ = nullptr;
  std::set<std::string> symbols_;
  std::unordered_set<const Value*> visible_;
  std::optional<PrintedModule> printed_;
};

}  // namespace

Status verify_module(const Module& module) { return Verifier(module).run(); }

}  // namespace graphc
