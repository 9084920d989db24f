#include "ir/op_registry.h"

#include <fmt/format.h>

#include <algorithm>

#include "ir/op.h"

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
    register_fused_ops(r);
    register_host_io_ops(r);
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

static bool attr_kind_fits(AttrKind want, AttrKind got) {
  return want == got || (want == AttrKind::Float && got == AttrKind::Int) ||
         (want == AttrKind::Floats && got == AttrKind::Dims);
}

std::string check_signature(const Op& op) {
  const OpDef& def = op.def();
  const int n = op.num_operands();
  if (n < def.min_operands || (def.max_operands != OpDef::kVariadic && n > def.max_operands)) {
    std::string range = def.max_operands == def.min_operands ? std::to_string(def.min_operands)
                        : def.max_operands == OpDef::kVariadic
                            ? fmt::format("at least {}", def.min_operands)
                            : fmt::format("{} to {}", def.min_operands, def.max_operands);
    return fmt::format("takes {} operands, has {}", range, n);
  }
  for (const auto& [k, v] : op.attrs()) {
    const AttrSpec* spec = def.find_attr(k);
    if (!spec) return "unknown attribute '" + k + "'";
    if (!spec->any_kind && !attr_kind_fits(spec->kind, v.kind()))
      return fmt::format("attribute '{}' must be a {}, got {}", k, attr_kind_name(spec->kind), v.str(8));
  }
  for (const AttrSpec& s : def.attrs)
    if (!s.default_value && !op.has_attr(s.name)) return "missing attribute '" + s.name + "'";
  if (op.num_regions() != def.num_regions)
    return fmt::format("has {} regions, expected {}", op.num_regions(), def.num_regions);
  return {};
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
