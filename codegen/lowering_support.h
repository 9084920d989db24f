// What the lowerings share: element-size suffixes, shapes padded to a fixed
// rank, row-major strides, and an op seen as [outer, n, inner] around an axis.
#pragma once

#include <fmt/format.h>

#include <string>
#include <vector>

#include "codegen/kernel_call.h"

namespace graphc::lowering {

// "e1", "e2", "e4" or "e8": the copy templates by element size.
inline std::string element_suffix(DType t) { return "e" + std::to_string(dtype_bytes(t)); }

inline std::vector<int64_t> strides_of(const std::vector<int64_t>& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

inline int64_t product(const std::vector<int64_t>& v, size_t from = 0, size_t to = size_t(-1)) {
  int64_t p = 1;
  for (size_t i = from; i < v.size() && i < to; ++i) p *= v[i];
  return p;
}

// Left-pads with `fill` to `rank` entries.
inline std::vector<int64_t> pad_front(std::vector<int64_t> v, size_t rank, int64_t fill) {
  v.insert(v.begin(), rank - v.size(), fill);
  return v;
}

struct AxisView {
  int64_t outer = 1, n = 1, inner = 1;
};
inline AxisView around_axis(const std::vector<int64_t>& shape, int axis) {
  return {product(shape, 0, axis), shape.at(axis), product(shape, axis + 1)};
}

inline int normalized_axis(int64_t axis, size_t rank) {
  return static_cast<int>(axis < 0 ? axis + static_cast<int64_t>(rank) : axis);
}

inline Error unsupported(const LoweringContext& ctx, const std::string& what) {
  std::string types;
  for (const BufferInfo& b : ctx.operands)
    types += (types.empty() ? "" : ", ") + std::string(dtype_name(b.dtype)) + fmt::format("[{}]", fmt::join(b.shape, ","));
  return Error{fmt::format("the CPU backend has no kernel for {} on {}: {}", ctx.op.name(), types, what)};
}

// Floats per vector in the kernels compiled for this host (GK_VW).
inline int64_t host_width(const LoweringContext& ctx) { return ctx.cpu.vector_width(); }

// Work items per task for a kernel whose items each cost about `cost`
// element operations: tasks of at least ~16K operations.
inline int64_t grain_for(int64_t cost) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, cost)); }

}  // namespace graphc::lowering
