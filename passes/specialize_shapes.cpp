// specialize-shapes: binds symbolic dims to integers everywhere, e.g.
// `specialize-shapes{seq=128}`.
//
// Matches every place a symbol can appear:
//
//     func @f(%x: f32[seq,4]) -> (f32[seq,4])          func @f(%x: f32[128,4]) -> (f32[128,4])
//       %0 = iota {axis = 0, shape = [seq]} : i32[seq]   ->  %0 = iota {axis = 0, shape = [128]} : i32[128]
//       %1 = slice %x {limit = [seq,2], ...}                  %1 = slice %x {limit = [128,2], ...}
//
// parameter, result and block-argument types, function result types, and
// every list-of-dims attribute (shape, limit, sizes, ...), in every function
// and region. Symbols not named in the options stay symbolic.
//
// Guarantees: the module verifies afterwards, or the pass fails with the
// verifier's message (a slice whose limit now exceeds its dim, say): a
// specialized program is checked before anything relies on it.
//
// Refuses: values that are not non-negative integers, and names that are not
// symbols (an option is a symbol name and its value). A symbol that appears
// nowhere is not an error; it is counted under "unused bindings".
#include <fmt/format.h>

#include <cctype>
#include <set>

#include "ir/verifier.h"
#include "passes/pass.h"

namespace graphc {
namespace {

class SpecializeShapes : public Pass {
 public:
  explicit SpecializeShapes(SymbolBindings bindings) : bindings_(std::move(bindings)) {}
  std::string name() const override { return "specialize-shapes"; }
  std::string summary() const override { return "binds symbolic dims to integers, e.g. specialize-shapes{seq=128}"; }

  Expected<bool> run(Module& module, PassStats& stats) override {
    used_.clear();
    int64_t types = 0, attrs = 0;
    for (const auto& f : module.functions()) {
      Function& fn = *f;
      std::vector<TensorType> results = fn.result_types();
      for (TensorType& t : results) types += bind(t.shape);
      fn.set_result_types(std::move(results));
      types += bind_block(fn.body(), attrs);
    }
    if (types) stats.count("types rewritten", types);
    if (attrs) stats.count("attributes rewritten", attrs);
    int64_t unused = 0;
    for (const auto& [name, value] : bindings_) unused += !used_.count(name);
    if (unused) stats.count("unused bindings", unused);
    if (types + attrs == 0) return false;
    Status s = verify_module(module);
    if (!s.ok()) return Error{"the specialized module does not verify: " + s.error().message};
    return true;
  }

 private:
  // Rewrites bound symbols in place; returns 1 if anything changed.
  int64_t bind(Shape& shape) {
    bool changed = false;
    for (Dim& d : shape) {
      if (!d.is_symbolic()) continue;
      auto it = bindings_.find(d.symbol);
      if (it == bindings_.end()) continue;
      used_.insert(d.symbol);
      d = Dim(it->second);
      changed = true;
    }
    return changed ? 1 : 0;
  }

  int64_t bind_value(Value* v) {
    TensorType t = v->type();
    if (!bind(t.shape)) return 0;
    v->set_type(std::move(t));
    return 1;
  }

  int64_t bind_block(Block* block, int64_t& attrs) {
    int64_t types = 0;
    for (const auto& a : block->args()) types += bind_value(a.get());
    for (const auto& op : block->ops()) {
      for (const auto& r : op->results()) types += bind_value(r.get());
      for (auto& [name, attr] : op->mutable_attrs()) {
        if (attr.kind() != AttrKind::Dims) continue;
        Shape dims = attr.as_dims();
        if (bind(dims)) {
          attr = Attribute(std::move(dims));
          ++attrs;
        }
      }
      for (const auto& r : op->regions()) types += bind_block(r.get(), attrs);
    }
    return types;
  }

  SymbolBindings bindings_;
  std::set<std::string> used_;
};

bool is_symbol_name(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

}  // namespace

std::unique_ptr<Pass> create_specialize_shapes(const PassOptions& options) {
  SymbolBindings bindings;
  for (const auto& [name, value] : options.entries()) {
    if (!is_symbol_name(name)) throw GraphcError(fmt::format("'{}' is not a symbol name", name));
    const int64_t n = options.get_int(name, 0);
    if (n < 0) throw GraphcError(fmt::format("symbol '{}' must be bound to a non-negative integer, got {}", name, n));
    bindings[name] = n;
  }
  return std::make_unique<SpecializeShapes>(std::move(bindings));
}

}  // namespace graphc
