#include "ir/op_registry.h"

#include <algorithm>

namespace graphc {

const AttrSpec* OpDef::find_attr(std::string_view attr) const {
  for (const AttrSpec& s : attrs)
    if (s.name == attr) return &s;
  return nullptr;
}

const OpRegistry& OpRegistry::instance() {
  static const OpRegistry registry = [] {
    OpRegistry r;
    register_elementwise_ops(r);
    register_shape_ops(r);
    register_reduction_ops(r);
    register_linalg_ops(r);
    register_generator_ops(r);
    register_control_flow_ops(r);
    register_global_ops(r);
    return r;
  }();
  return registry;
}

void OpRegistry::add(OpDef def) {
  std::string name = def.name;
  if (!defs_.emplace(name, std::move(def)).second)
    throw GraphcError("op '" + name + "' is registered twice");
}

const OpDef* OpRegistry::find(std::string_view name) const {
  auto it = defs_.find(name);
  return it == defs_.end() ? nullptr : &it->second;
}

const OpDef& OpRegistry::get(std::string_view name) const {
  const OpDef* d = find(name);
  if (!d) throw GraphcError("unknown op '" + std::string(name) + "'");
  return *d;
}

std::vector<const OpDef*> OpRegistry::all() const {
  std::vector<const OpDef*> out;
  for (const auto& [_, d] : defs_) out.push_back(&d);
  return out;
}

Error infer_error(std::string message) { return Error{std::move(message)}; }

std::optional<int> normalize_axis(int64_t axis, int rank) {
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return std::nullopt;
  return static_cast<int>(axis);
}

std::optional<Shape> broadcast_shapes(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const Dim one(1);
    const Dim& da = i < rank - a.size() ? one : a[i - (rank - a.size())];
    const Dim& db = i < rank - b.size() ? one : b[i - (rank - b.size())];
    if (da == db) out[i] = da;
    else if (da == one) out[i] = db;
    else if (db == one) out[i] = da;
    else return std::nullopt;
  }
  return out;
}

}  // namespace graphc
