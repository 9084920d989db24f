// Reference semantics of the shape ops (ir/ops/shape_ops.cpp). Every kernel
// walks the result element by element and works out where each one comes
// from: slow, and easy to check by reading.
#include <fmt/format.h>

#include <algorithm>

#include "backends/reference/reference_kernels.h"
#include "ir/op_registry.h"
#include "ir/status.h"

namespace graphc {
namespace {

// Copies one element between tensors of the same dtype, without rounding.
void copy_element(HostTensor& out, int64_t to, const HostTensor& in, int64_t from) {
  if (out.is_float()) out.set(to, in.get(from));
  else out.ints()[to] = in.ints()[from];
}

// Calls f(flat, index) for every element of `shape` in row-major order
// (once for a scalar, never for a zero-size shape).
template <typename F>
void for_each_index(const std::vector<int64_t>& shape, F f) {
  if (product(shape) == 0) return;
  std::vector<int64_t> index(shape.size(), 0);
  int64_t flat = 0;
  do f(flat++, index);
  while (next_index(index, shape));
}

// Where an XLA dynamic slice of `size` elements starts along an axis of
// `dim`: the requested start, clamped so the slice fits.
int64_t clamped_start(const HostTensor& start, int64_t dim, int64_t size, int axis) {
  if (size > dim)
    throw GraphcError(fmt::format("size {} on axis {} exceeds the dim {}", size, axis, dim));
  return std::clamp<int64_t>(start.ints().at(0), 0, dim - size);
}

KernelResults reshape(const Op& op, const Inputs& in, ReferenceContext& ctx) {
  return in[0]->reshaped(ctx.result_shape(op, 0));
}

KernelResults transpose(const Op& op, const Inputs& in, ReferenceContext& ctx) {
  const HostTensor& x = *in[0];
  const std::vector<int64_t> perm = op.attr_ints("perm");
  const std::vector<int64_t> x_strides = row_major_strides(x.shape());
  HostTensor out(x.dtype(), ctx.result_shape(op, 0));
  for_each_index(out.shape(), [&](int64_t flat, const std::vector<int64_t>& index) {
    int64_t from = 0;  // result axis d is operand axis perm[d]
    for (size_t d = 0; d < perm.size(); ++d) from += index[d] * x_strides[perm[d]];
    copy_element(out, flat, x, from);
  });
  return out;
}

KernelResults broadcast(const Op& op, const Inputs& in, ReferenceContext& ctx) {
  const HostTensor& x = *in[0];
  HostTensor out(x.dtype(), ctx.result_shape(op, 0));
  for_each_index(out.shape(), [&](int64_t flat, const std::vector<int64_t>& index) {
    copy_element(out, flat, x, broadcast_source_index(index, x.shape()));
  });
  return out;
}

KernelResults slice(const Op& op, const Inputs& in, ReferenceContext& ctx) {
  const HostTensor& x = *in[0];
  const std::vector<int64_t> start = op.attr_ints("start");
  std::vector<int64_t> stride = op.attr_ints("stride");
  if (stride.empty()) stride.assign(x.rank(), 1);
  const std::vector<int64_t> x_strides = row_major_strides(x.shape());
  HostTensor out(x.dtype(), ctx.result_shape(op, 0));
  for_each_index(out.shape(), [&](int64_t flat, const std::vector<int64_t>& index) {
    int64_t from = 0;
    for (int d = 0; d < x.rank(); ++d) from += (start[d] + index[d] * stride[d]) * x_strides[d];
    copy_element(out, flat, x, from);
  });
  return out;
}

KernelResults concat(const Op& op, const Inputs& in, ReferenceContext& ctx) {
  HostTensor out(in[0]->dtype(), ctx.result_shape(op, 0));
  const int axis = *normalize_axis(op.attr_int("axis"), out.rank());
  // View every tensor as [outer, axis dim * inner]: each outer row of the
  // result is the operands' rows one after another.
  const std::vector<int64_t>& shape = out.shape();
  const int64_t outer = product(std::vector<int64_t>(shape.begin(), shape.begin() + axis));
  const int64_t inner = product(std::vector<int64_t>(shape.begin() + axis + 1, shape.end()));
  int64_t to = 0;
  for (int64_t o = 0; o < outer; ++o) {
    for (const TensorPtr& x : in) {
      const int64_t row = x->dim(axis) * inner;
      for (int64_t j = 0; j < row; ++j) copy_element(out, to++, *x, o * row + j);
    }
  }
  return out;
}

KernelResults dynamic_slice(const Op& op, const Inputs& in, ReferenceContext& ctx) {
  const HostTensor& x = *in[0];
  HostTensor out(x.dtype(), ctx.result_shape(op, 0));
  std::vector<int64_t> start(x.rank());
  for (int d = 0; d < x.rank(); ++d) start[d] = clamped_start(*in[1 + d], x.dim(d), out.dim(d), d);
  const std::vector<int64_t> x_strides = row_major_strides(x.shape());
  for_each_index(out.shape(), [&](int64_t flat, const std::vector<int64_t>& index) {
    int64_t from = 0;
    for (int d = 0; d < x.rank(); ++d) from += (start[d] + index[d]) * x_strides[d];
    copy_element(out, flat, x, from);
  });
  return out;
}

KernelResults dynamic_update_slice(const Op& op, const Inputs& in, ReferenceContext&) {
  const HostTensor& update = *in[1];
  HostTensor out = *in[0];
  std::vector<int64_t> start(out.rank());
  for (int d = 0; d < out.rank(); ++d) start[d] = clamped_start(*in[2 + d], out.dim(d), update.dim(d), d);
  const std::vector<int64_t> out_strides = row_major_strides(out.shape());
  for_each_index(update.shape(), [&](int64_t flat, const std::vector<int64_t>& index) {
    int64_t to = 0;
    for (int d = 0; d < out.rank(); ++d) to += (start[d] + index[d]) * out_strides[d];
    copy_element(out, to, update, flat);
  });
  return out;
}

KernelResults gather(const Op& op, const Inputs& in, ReferenceContext& ctx) {
  const HostTensor& table = *in[0];
  const HostTensor& indices = *in[1];
  const int axis = *normalize_axis(op.attr_int("axis"), table.rank());
  const int64_t dim = table.dim(axis);
  for (int64_t j = 0; j < indices.numel(); ++j) {
    const int64_t i = indices.ints()[j];
    if (i < 0 || i >= dim)
      throw GraphcError(fmt::format("index {} (element {} of the indices) is out of range [0, {}) for axis {} of {}",
                                    i, j, dim, axis, table.type().str()));
  }
  // The table as [outer, dim, inner]; the result as [outer, indices, inner].
  const std::vector<int64_t>& shape = table.shape();
  const int64_t outer = product(std::vector<int64_t>(shape.begin(), shape.begin() + axis));
  const int64_t inner = product(std::vector<int64_t>(shape.begin() + axis + 1, shape.end()));
  HostTensor out(table.dtype(), ctx.result_shape(op, 0));
  int64_t to = 0;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < indices.numel(); ++j)
      for (int64_t k = 0; k < inner; ++k)
        copy_element(out, to++, table, (o * dim + indices.ints()[j]) * inner + k);
  return out;
}

KernelResults scatter_add(const Op& op, const Inputs& in, ReferenceContext&) {
  const HostTensor& base = *in[0];
  const HostTensor& indices = *in[1];
  const HostTensor& updates = *in[2];
  const int64_t n = base.dim(0);
  const int64_t inner = n == 0 ? 0 : base.numel() / n;
  HostTensor out = base;
  for (int64_t j = 0; j < indices.numel(); ++j) {
    const int64_t i = indices.ints()[j];
    if (i < 0 || i >= n)
      throw GraphcError(fmt::format("index {} (element {} of the indices) is out of range [0, {}) for axis 0 of {}", i,
                                    j, n, base.type().str()));
    for (int64_t c = 0; c < inner; ++c) out.set(i * inner + c, out.get(i * inner + c) + updates.get(j * inner + c));
  }
  return out;
}

}  // namespace

void register_shape_kernels(ReferenceKernels& k) {
  k.add("reshape", reshape);
  k.add("transpose", transpose);
  k.add("broadcast", broadcast);
  k.add("slice", slice);
  k.add("concat", concat);
  k.add("dynamic_slice", dynamic_slice);
  k.add("dynamic_update_slice", dynamic_update_slice);
  k.add("gather", gather);
  k.add("scatter_add", scatter_add);
}

}  // namespace graphc
