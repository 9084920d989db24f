// Shape ops: reshape, transpose, broadcast, slice, concat, dynamic_slice,
// dynamic_update_slice and gather. None of them computes anything; they move
// elements. Type inference checks the shapes, symbolic dims included, and
// says what is wrong with the actual ones.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <string_view>

#include "ir/op.h"
#include "ir/op_registry.h"

namespace graphc {
namespace {

using Types = Expected<std::vector<TensorType>>;

std::string ints_str(const std::vector<int64_t>& v) { return fmt::format("[{}]", fmt::join(v, ", ")); }

// Reads a Dims attribute that must hold only integers.
Expected<std::vector<int64_t>> static_ints(const Op& op, const std::string& name) {
  const Attribute& a = op.attr(name);
  if (a.kind() != AttrKind::Dims)
    return infer_error(fmt::format("attribute '{}' must be a list of integers, got {}", name, a.str()));
  for (const Dim& d : a.as_dims())
    if (d.is_symbolic())
      return infer_error(fmt::format("attribute '{}' must be integers, found symbol '{}' in {}", name, d.symbol,
                                     a.str()));
  return a.as_ints();
}

Expected<Shape> dims_attr(const Op& op, const std::string& name) {
  const Attribute& a = op.attr(name);
  if (a.kind() != AttrKind::Dims)
    return infer_error(fmt::format("attribute '{}' must be a list of dims, got {}", name, a.str()));
  return a.as_dims();
}

Expected<int64_t> int_attr(const Op& op, const std::string& name) {
  const Attribute& a = op.attr(name);
  if (a.kind() != AttrKind::Int)
    return infer_error(fmt::format("attribute '{}' must be an integer, got {}", name, a.str()));
  return a.as_int();
}

// ---- reshape ---------------------------------------------------------------

// An element count as (static factor) * (product of symbols).
struct SymbolicCount {
  int64_t factor = 1;
  std::map<std::string, int> symbols;  // symbol -> multiplicity
  bool overflow = false;

  void multiply(const Dim& d) {
    if (d.is_symbolic()) {
      ++symbols[d.symbol];
    } else if (__builtin_mul_overflow(factor, d.value, &factor)) {
      overflow = true;
    }
  }
  std::string str() const {
    std::string out = factor == 1 && !symbols.empty() ? "" : std::to_string(factor);
    for (const auto& [s, n] : symbols)
      for (int i = 0; i < n; ++i) out += (out.empty() ? "" : "*") + s;
    return out;
  }
};

Types infer_reshape(const Op& op) {
  const TensorType& x = op.operand(0)->type();
  auto target = dims_attr(op, "shape");
  if (!target.ok()) return target.error();
  const Shape& want = *target;

  int inferred = -1;
  SymbolicCount in, out;
  for (const Dim& d : x.shape) in.multiply(d);
  for (size_t i = 0; i < want.size(); ++i) {
    const Dim& d = want[i];
    if (d.is_static() && d.value == -1) {
      if (inferred >= 0)
        return infer_error(fmt::format("shape {} has more than one -1", shape_str(want)));
      inferred = static_cast<int>(i);
    } else if (d.is_static() && d.value < 0) {
      return infer_error(fmt::format("shape {} has a negative dim {} (only -1 is allowed)", shape_str(want), d.value));
    } else {
      out.multiply(d);
    }
  }
  if (in.overflow || out.overflow)
    return infer_error(fmt::format("cannot reshape {} to {}: element count overflows", shape_str(x.shape),
                                   shape_str(want)));
  const auto describe = [&](const SymbolicCount& c) {
    return c.symbols.empty() ? fmt::format("{} elements", c.factor) : c.str() + " elements";
  };
  const std::string what = fmt::format("cannot reshape {} ({}) to {}", shape_str(x.shape), describe(in),
                                       shape_str(want));

  // Every symbol of the target must come from the input, so that it is bound
  // whenever the input is; what is left over belongs to the -1 dim.
  SymbolicCount rest;
  rest.symbols = in.symbols;
  for (const auto& [s, n] : out.symbols) {
    auto it = rest.symbols.find(s);
    if (it == rest.symbols.end() || it->second < n)
      return infer_error(fmt::format("{} ({}): symbol '{}' of the target does not cancel against the input", what,
                                     describe(out), s));
    if ((it->second -= n) == 0) rest.symbols.erase(it);
  }

  if (inferred < 0) {
    const bool both_empty = in.factor == 0 && out.factor == 0;  // 0 * seq == 0
    if (!both_empty && (!rest.symbols.empty() || in.factor != out.factor))
      return infer_error(fmt::format("{} ({})", what, describe(out)));
    return std::vector<TensorType>{TensorType(x.dtype, want)};
  }

  if (out.factor == 0) return infer_error(what + ": the -1 dim is ambiguous when another dim is 0");
  if (in.factor % out.factor != 0)
    return infer_error(in.symbols.empty()
                           ? fmt::format("{}: {} is not a multiple of {}", what, in.factor, out.factor)
                           : fmt::format("{}: the static factor {} of {} is not a multiple of {}", what, in.factor,
                                         in.str(), out.factor));
  rest.factor = in.factor / out.factor;
  Shape result = want;
  if (rest.symbols.empty() || rest.factor == 0) {
    result[inferred] = Dim(rest.factor);
  } else if (rest.factor == 1 && rest.symbols.size() == 1 && rest.symbols.begin()->second == 1) {
    result[inferred] = Dim::sym(rest.symbols.begin()->first);
  } else {
    return infer_error(fmt::format("{}: the -1 dim would be {}, which is not a single dim", what, rest.str()));
  }
  return std::vector<TensorType>{TensorType(x.dtype, result)};
}

// ---- transpose -------------------------------------------------------------

Types infer_transpose(const Op& op) {
  const TensorType& x = op.operand(0)->type();
  auto perm = static_ints(op, "perm");
  if (!perm.ok()) return perm.error();
  const int rank = x.rank();
  bool ok = static_cast<int>(perm->size()) == rank;
  std::vector<bool> seen(rank, false);
  for (int64_t p : *perm) {
    if (!ok) break;
    ok = p >= 0 && p < rank && !seen[p];
    if (ok) seen[p] = true;
  }
  if (!ok)
    return infer_error(fmt::format("perm {} is not a permutation of {} axes (operand {})", ints_str(*perm), rank,
                                   x.str()));
  Shape out;
  for (int64_t p : *perm) out.push_back(x.shape[p]);
  return std::vector<TensorType>{TensorType(x.dtype, out)};
}

// ---- broadcast -------------------------------------------------------------

Types infer_broadcast(const Op& op) {
  const TensorType& x = op.operand(0)->type();
  auto target = dims_attr(op, "shape");
  if (!target.ok()) return target.error();
  const Shape& want = *target;
  const std::string what = fmt::format("cannot broadcast {} to {}", shape_str(x.shape), shape_str(want));
  for (const Dim& d : want)
    if (d.is_static() && d.value < 0) return infer_error(fmt::format("{}: negative dim {}", what, d.value));
  if (x.rank() > static_cast<int>(want.size()))
    return infer_error(fmt::format("{}: the operand has rank {}, more than the target's {}", what, x.rank(),
                                   want.size()));
  const size_t offset = want.size() - x.shape.size();
  for (size_t i = 0; i < x.shape.size(); ++i) {
    const Dim& from = x.shape[i];
    const Dim& to = want[i + offset];
    if (!(from == to) && !(from == Dim(1)))
      return infer_error(fmt::format("{}: operand dim {} ({}) is neither 1 nor {}", what, i, from.str(), to.str()));
  }
  return std::vector<TensorType>{TensorType(x.dtype, want)};
}

// ---- slice -----------------------------------------------------------------

Types infer_slice(const Op& op) {
  const TensorType& x = op.operand(0)->type();
  const int rank = x.rank();
  auto start = static_ints(op, "start");
  if (!start.ok()) return start.error();
  auto limit = dims_attr(op, "limit");
  if (!limit.ok()) return limit.error();
  auto stride = static_ints(op, "stride");
  if (!stride.ok()) return stride.error();
  const std::string of = "operand " + x.str();
  for (const char* name : {"start", "limit", "stride"}) {
    const size_t n = op.attr(name).as_dims().size();
    if (static_cast<int>(n) != rank && !(n == 0 && std::string_view(name) == "stride"))
      return infer_error(fmt::format("{}: {} {} has {} entries, expected {} (one per axis)", of, name,
                                     op.attr(name).str(), n, rank));
  }
  if (stride->empty()) stride->assign(rank, 1);
  Shape out;
  for (int d = 0; d < rank; ++d) {
    const Dim& dim = x.shape[d];
    const Dim& lim = (*limit)[d];
    const int64_t s = (*start)[d], k = (*stride)[d];
    if (k <= 0) return infer_error(fmt::format("{}: stride {} on axis {} is not positive", of, k, d));
    if (dim.is_static() && lim.is_symbolic())
      return infer_error(fmt::format("{}: axis {} is {}, but its limit is the symbol '{}'", of, d, dim.value,
                                     lim.symbol));
    if (dim.is_symbolic()) {
      // Only the whole of a symbolic axis can be taken: its size is unknown.
      if (!(lim == dim) || s != 0 || k != 1)
        return infer_error(fmt::format("{}: axis {} is {}; a slice of a symbolic axis must have start 0, limit {} "
                                       "and stride 1 (got start {}, limit {}, stride {})",
                                       of, d, dim.str(), dim.str(), s, lim.str(), k));
      out.push_back(dim);
      continue;
    }
    if (s < 0 || s > lim.value || lim.value > dim.value)
      return infer_error(fmt::format("{}: axis {} needs 0 <= start <= limit <= {}, got start {}, limit {}", of, d,
                                     dim.value, s, lim.value));
    out.push_back(Dim(lim.value == s ? 0 : (lim.value - s - 1) / k + 1));  // ceil, without overflow
  }
  return std::vector<TensorType>{TensorType(x.dtype, out)};
}

// ---- concat ----------------------------------------------------------------

Types infer_concat(const Op& op) {
  const TensorType& first = op.operand(0)->type();
  auto axis_attr = int_attr(op, "axis");
  if (!axis_attr.ok()) return axis_attr.error();
  const auto axis = normalize_axis(*axis_attr, first.rank());
  if (!axis)
    return infer_error(fmt::format("axis {} is out of range for operand 0 {}", *axis_attr, first.str()));
  Shape out = first.shape;
  int64_t total = 0;
  for (int i = 0; i < op.num_operands(); ++i) {
    const TensorType& t = op.operand(i)->type();
    if (t.dtype != first.dtype)
      return infer_error(fmt::format("operand dtypes differ: operand 0 is {}, operand {} is {}", first.str(), i,
                                     t.str()));
    if (t.rank() != first.rank())
      return infer_error(fmt::format("operand ranks differ: operand 0 is {}, operand {} is {}", first.str(), i,
                                     t.str()));
    for (int d = 0; d < t.rank(); ++d)
      if (d != *axis && !(t.shape[d] == first.shape[d]))
        return infer_error(fmt::format("operand {} is {}, but dim {} must be {} like operand 0 {} (only axis {} "
                                       "may differ)",
                                       i, t.str(), d, first.shape[d].str(), first.str(), *axis));
    const Dim& a = t.shape[*axis];
    if (a.is_symbolic())
      return infer_error(fmt::format("operand {} is {}: the concatenation axis {} must be static, not '{}'", i,
                                     t.str(), *axis, a.symbol));
    total += a.value;
  }
  out[*axis] = Dim(total);
  return std::vector<TensorType>{TensorType(first.dtype, out)};
}

// ---- dynamic_slice and dynamic_update_slice ---------------------------------

// Operands [first, first + rank) must be scalar i32/i64 start indices.
Status check_starts(const Op& op, int first, const TensorType& x) {
  const int given = op.num_operands() - first;
  if (given != x.rank())
    return infer_error(fmt::format("needs one start index per axis of {}: {} expected, {} given", x.str(),
                                   x.rank(), given));
  for (int i = first; i < op.num_operands(); ++i) {
    const TensorType& t = op.operand(i)->type();
    if (t.rank() != 0 || !is_integer(t.dtype))
      return infer_error(fmt::format("start index {} must be a scalar i32 or i64, got {}", i - first, t.str()));
  }
  return Status::success();
}

Types infer_dynamic_slice(const Op& op) {
  const TensorType& x = op.operand(0)->type();
  Status starts = check_starts(op, 1, x);
  if (!starts.ok()) return starts.error();
  auto sizes = dims_attr(op, "sizes");
  if (!sizes.ok()) return sizes.error();
  if (static_cast<int>(sizes->size()) != x.rank())
    return infer_error(fmt::format("sizes {} has {} entries for operand {} of rank {}",
                                   Attribute(*sizes).str(), sizes->size(), x.str(), x.rank()));
  for (int d = 0; d < x.rank(); ++d) {
    const Dim& size = (*sizes)[d];
    const Dim& dim = x.shape[d];
    if (size.is_static() && size.value < 0)
      return infer_error(fmt::format("sizes {}: negative size {} on axis {}", Attribute(*sizes).str(), size.value, d));
    // A symbolic size or axis is checked when the symbols are bound.
    if (size.is_static() && dim.is_static() && size.value > dim.value)
      return infer_error(fmt::format("sizes {}: size {} on axis {} exceeds the dim {} of {}", Attribute(*sizes).str(),
                                     size.value, d, dim.value, x.str()));
  }
  return std::vector<TensorType>{TensorType(x.dtype, *sizes)};
}

Types infer_dynamic_update_slice(const Op& op) {
  if (op.num_operands() < 2) return infer_error("needs an operand and an update");
  const TensorType& x = op.operand(0)->type();
  const TensorType& u = op.operand(1)->type();
  if (u.dtype != x.dtype)
    return infer_error(fmt::format("update {} does not have the dtype of the operand {}", u.str(), x.str()));
  if (u.rank() != x.rank())
    return infer_error(fmt::format("update {} does not have the rank of the operand {}", u.str(), x.str()));
  for (int d = 0; d < x.rank(); ++d) {
    const Dim& ud = u.shape[d];
    const Dim& xd = x.shape[d];
    // A symbolic dim is checked when the symbols are bound.
    if (ud.is_static() && xd.is_static() && ud.value > xd.value)
      return infer_error(fmt::format("update {} is larger than the operand {} on axis {}", u.str(), x.str(), d));
  }
  Status starts = check_starts(op, 2, x);
  if (!starts.ok()) return starts.error();
  return std::vector<TensorType>{x};
}

// ---- gather ----------------------------------------------------------------

Types infer_gather(const Op& op) {
  const TensorType& table = op.operand(0)->type();
  const TensorType& indices = op.operand(1)->type();
  auto axis_attr = int_attr(op, "axis");
  if (!axis_attr.ok()) return axis_attr.error();
  if (!is_integer(indices.dtype)) return infer_error("indices must be i32 or i64, got " + indices.str());
  const auto axis = normalize_axis(*axis_attr, table.rank());
  if (!axis) return infer_error(fmt::format("axis {} is out of range for the table {}", *axis_attr, table.str()));
  Shape out(table.shape.begin(), table.shape.begin() + *axis);
  out.insert(out.end(), indices.shape.begin(), indices.shape.end());
  out.insert(out.end(), table.shape.begin() + *axis + 1, table.shape.end());
  return std::vector<TensorType>{TensorType(table.dtype, out)};
}

// ---- scatter_add ------------------------------------------------------------

// The adjoint of gather along axis 0: base [n, rest...], indices [idx...],
// updates [idx..., rest...].
Types infer_scatter_add(const Op& op) {
  const TensorType& base = op.operand(0)->type();
  const TensorType& indices = op.operand(1)->type();
  const TensorType& updates = op.operand(2)->type();
  if (!is_integer(indices.dtype)) return infer_error("indices must be i32 or i64, got " + indices.str());
  if (!is_floating(base.dtype)) return infer_error("base must be floating-point, got " + base.str());
  if (updates.dtype != base.dtype)
    return infer_error(fmt::format("updates {} do not have the dtype of the base {}", updates.str(), base.str()));
  if (base.rank() < 1) return infer_error("base must have at least one dim, got " + base.str());
  Shape expected = indices.shape;
  expected.insert(expected.end(), base.shape.begin() + 1, base.shape.end());
  if (TensorType(base.dtype, expected) != updates)
    return infer_error(fmt::format("updates {} should have shape indices + base.shape[1:] = {}", updates.str(),
                                   TensorType(base.dtype, expected).str()));
  return std::vector<TensorType>{base};
}

}  // namespace

void register_shape_ops(OpRegistry& r) {
  r.add(OpDef{.name = "reshape",
              .summary = "same elements in row-major order, new shape",
              .min_operands = 1,
              .max_operands = 1,
              .attrs = {{"shape", AttrKind::Dims, std::nullopt,
                         "the new shape; one dim may be -1 (inferred, symbols cancelled); "
                         "the element count must not change"}},
              .infer = infer_reshape});
  r.add(OpDef{.name = "transpose",
              .summary = "permutes axes: result dim i is operand dim perm[i]",
              .min_operands = 1,
              .max_operands = 1,
              .attrs = {{"perm", AttrKind::Dims, std::nullopt, "a permutation of [0, rank)"}},
              .infer = infer_transpose});
  r.add(OpDef{.name = "broadcast",
              .summary = "numpy-style broadcast to a shape: right-aligned, dims of 1 stretch",
              .min_operands = 1,
              .max_operands = 1,
              .attrs = {{"shape", AttrKind::Dims, std::nullopt, "the target shape, of rank >= the operand's"}},
              .infer = infer_broadcast});
  r.add(OpDef{.name = "slice",
              .summary = "static strided slice: per axis, elements start, start+stride, ... below limit",
              .min_operands = 1,
              .max_operands = 1,
              .attrs = {{"start", AttrKind::Dims, std::nullopt, "first index per axis, 0 <= start <= limit"},
                        {"limit", AttrKind::Dims, std::nullopt,
                         "exclusive end per axis, limit <= dim; a symbolic axis is taken whole (limit = its symbol)"},
                        {"stride", AttrKind::Dims, Attribute(std::vector<Dim>{}),
                         "step per axis, positive; [] means 1 on every axis"}},
              .infer = infer_slice});
  r.add(OpDef{.name = "concat",
              .summary = "joins one or more tensors along an axis",
              .min_operands = 1,
              .max_operands = OpDef::kVariadic,
              .attrs = {{"axis", AttrKind::Int, std::nullopt,
                         "the axis to join along (negative counts from the end); its dims must be static"}},
              .infer = infer_concat});
  r.add(OpDef{.name = "dynamic_slice",
              .summary = "slice of the given sizes at run-time starts (one scalar i32/i64 per axis), "
                         "each start clamped to [0, dim - size]",
              .min_operands = 1,
              .max_operands = OpDef::kVariadic,
              .attrs = {{"sizes", AttrKind::Dims, std::nullopt, "the result shape, size <= dim per axis (checked at run time where a symbol is involved)"}},
              .infer = infer_dynamic_slice});
  r.add(OpDef{.name = "dynamic_update_slice",
              .summary = "operand with update written at run-time starts (one scalar i32/i64 per axis), "
                         "each start clamped to [0, dim - update dim]; the update must fit (a symbolic dim "
                         "is checked at run time)",
              .min_operands = 2,
              .max_operands = OpDef::kVariadic,
              .infer = infer_dynamic_update_slice});
  r.add(OpDef{.name = "gather",
              .summary = "numpy take: table.shape[:axis] + indices.shape + table.shape[axis+1:]; "
                         "an index outside [0, dim) is a run-time error",
              .min_operands = 2,
              .max_operands = 2,
              .attrs = {{"axis", AttrKind::Int, Attribute(int64_t{0}),
                         "the table axis the indices select along (negative counts from the end)"}},
              .infer = infer_gather});
  r.add(OpDef{.name = "scatter_add",
              .summary = "base with updates[j...] added to row indices[j...] of axis 0, in index order "
                         "(repeated indices accumulate); the adjoint of gather; an index outside [0, dim) "
                         "is a run-time error",
              .min_operands = 3,
              .max_operands = 3,
              .infer = infer_scatter_add});
}

}  // namespace graphc
