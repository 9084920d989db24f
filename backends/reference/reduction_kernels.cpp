// Reference semantics of the reductions (ir/ops/reduction.cpp).
//
// Floating-point data is accumulated in double and rounded once, to the
// result's dtype. Integer sums accumulate in int64 and wrap like integer
// `add`. Identities for empty reductions: sum 0, mean NaN (0/0), max -inf for
// floats and the dtype's minimum for integers.
//
// NaN: max propagates it; argmax and topk treat it as larger than every
// number (the first NaN wins); softmax of a row holding NaN is all NaN.
// Softmax subtracts the row's maximum before exp, so large inputs do not
// overflow; a row that is all -inf is NaN, as the formula gives.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <set>

#include "backends/reference/reference_kernels.h"
#include "ir/op_registry.h"
#include "ir/status.h"

namespace graphc {
namespace {

// Integer sums wrap like two's complement hardware instead of overflowing.
int64_t wrapping_add(int64_t a, int64_t b) { return static_cast<int64_t>(uint64_t(a) + uint64_t(b)); }

int64_t int_min(DType t) {
  if (t == DType::i32) return std::numeric_limits<int32_t>::min();
  if (t == DType::boolean) return 0;
  return std::numeric_limits<int64_t>::min();
}

// Calls f(flat, index) for every element of `shape` in row-major order.
template <typename F>
void for_each_index(const std::vector<int64_t>& shape, F f) {
  if (product(shape) == 0) return;
  std::vector<int64_t> index(shape.size(), 0);
  int64_t flat = 0;
  do f(flat++, index);
  while (next_index(index, shape));
}

// A tensor seen as [outer, n, inner] around one axis: element (o, k, i) is at
// (o * n + k) * inner + i.
struct AxisView {
  int64_t outer = 1, n = 1, inner = 1;
  AxisView(const std::vector<int64_t>& shape, int axis) {
    for (int d = 0; d < static_cast<int>(shape.size()); ++d) {
      if (d < axis) outer *= shape[d];
      else if (d == axis) n = shape[d];
      else inner *= shape[d];
    }
  }
  int64_t at(int64_t o, int64_t k, int64_t i) const { return (o * n + k) * inner + i; }
};

int axis_of(const Op& op, const std::string& name, int rank) {
  auto a = normalize_axis(op.attr_int(name), rank);
  if (!a) throw GraphcError(fmt::format("{} {} is out of range for rank {}", name, op.attr_int(name), rank));
  return *a;
}

// NaN-aware "a is larger than b": NaN is larger than every number.
bool greater(double a, double b) {
  if (std::isnan(a)) return !std::isnan(b);
  if (std::isnan(b)) return false;
  return a > b;
}

KernelResults reduce(const Op& op, const Inputs& in, ReferenceContext& ctx) {
  const HostTensor& x = *in[0];
  const std::string& kind = op.attr_string("kind");
  std::set<int> axes;
  for (int64_t a : op.attr_ints("axes")) {
    auto n = normalize_axis(a, x.rank());
    if (!n) throw GraphcError(fmt::format("axis {} is out of range for rank {}", a, x.rank()));
    axes.insert(*n);
  }

  // Where each input element lands: the kept axes, row-major.
  std::vector<int64_t> out_stride(x.rank(), 0);
  int64_t stride = 1, count = 1;
  for (int d = x.rank() - 1; d >= 0; --d) {
    if (axes.count(d)) {
      count *= x.dim(d);
    } else {
      out_stride[d] = stride;
      stride *= x.dim(d);
    }
  }
  HostTensor out(x.dtype(), ctx.result_shape(op, 0));
  const bool is_max = kind == "max";
  if (x.is_float()) {
    std::vector<double> acc(out.numel(), is_max ? -INFINITY : 0.0);
    for_each_index(x.shape(), [&](int64_t flat, const std::vector<int64_t>& index) {
      const int64_t o = std::inner_product(index.begin(), index.end(), out_stride.begin(), int64_t{0});
      const double v = x.get(flat);
      if (!is_max) acc[o] += v;
      else if (greater(v, acc[o])) acc[o] = v;
    });
    for (int64_t o = 0; o < out.numel(); ++o)
      out.set(o, kind == "mean" ? acc[o] / static_cast<double>(count) : acc[o]);
  } else {
    std::vector<int64_t> acc(out.numel(), is_max ? int_min(x.dtype()) : 0);
    for_each_index(x.shape(), [&](int64_t flat, const std::vector<int64_t>& index) {
      const int64_t o = std::inner_product(index.begin(), index.end(), out_stride.begin(), int64_t{0});
      const int64_t v = x.ints()[flat];
      acc[o] = is_max ? std::max(acc[o], v) : wrapping_add(acc[o], v);
    });
    for (int64_t o = 0; o < out.numel(); ++o) out.set_int(o, acc[o]);
  }
  return out;
}

KernelResults softmax(const Op& op, const Inputs& in, ReferenceContext&) {
  const HostTensor& x = *in[0];
  const AxisView v(x.shape(), axis_of(op, "axis", x.rank()));
  HostTensor out(x.dtype(), x.shape());
  std::vector<double> e(v.n);
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t i = 0; i < v.inner; ++i) {
      double m = -INFINITY;
      for (int64_t k = 0; k < v.n; ++k)
        if (greater(x.get(v.at(o, k, i)), m)) m = x.get(v.at(o, k, i));
      double sum = 0.0;
      for (int64_t k = 0; k < v.n; ++k) sum += e[k] = std::exp(static_cast<double>(x.get(v.at(o, k, i))) - m);
      for (int64_t k = 0; k < v.n; ++k) out.set(v.at(o, k, i), e[k] / sum);
    }
  return out;
}

// The element of x at `flat` as a key that orders like the data: exact for
// int64, NaN-aware for floats (see greater()).
bool element_greater(const HostTensor& x, int64_t a, int64_t b) {
  if (x.is_float()) return greater(x.get(a), x.get(b));
  return x.ints()[a] > x.ints()[b];
}

KernelResults argmax(const Op& op, const Inputs& in, ReferenceContext& ctx) {
  const HostTensor& x = *in[0];
  const int axis = axis_of(op, "axis", x.rank());
  const AxisView v(x.shape(), axis);
  if (v.n == 0) throw GraphcError(fmt::format("argmax over axis {} of {}, which is empty", axis, x.type().str()));
  HostTensor out(DType::i32, ctx.result_shape(op, 0));
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t i = 0; i < v.inner; ++i) {
      int64_t best = 0;
      for (int64_t k = 1; k < v.n; ++k)
        if (element_greater(x, v.at(o, k, i), v.at(o, best, i))) best = k;
      out.set_int(o * v.inner + i, best);
    }
  return out;
}

KernelResults topk(const Op& op, const Inputs& in, ReferenceContext&) {
  const HostTensor& x = *in[0];
  const int64_t k = op.attr_int("k");
  const int64_t n = x.shape().back();
  if (k < 1 || k > n) throw GraphcError(fmt::format("k = {} is out of range for {}", k, x.type().str()));
  std::vector<int64_t> shape = x.shape();
  shape.back() = k;
  HostTensor values(x.dtype(), shape);
  HostTensor indices(DType::i32, shape);
  std::vector<int64_t> order(n);
  for (int64_t row = 0; row < x.numel() / n; ++row) {
    const int64_t base = row * n;
    std::iota(order.begin(), order.end(), int64_t{0});
    // Stable, so equal elements keep their index order: ties go to the lower index.
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return element_greater(x, base + a, base + b); });
    for (int64_t j = 0; j < k; ++j) {
      const int64_t from = base + order[j];
      if (x.is_float()) values.set(row * k + j, x.get(from));
      else values.ints()[row * k + j] = x.ints()[from];
      indices.set_int(row * k + j, order[j]);
    }
  }
  return std::vector<HostTensor>{std::move(values), std::move(indices)};
}

KernelResults cumsum(const Op& op, const Inputs& in, ReferenceContext&) {
  const HostTensor& x = *in[0];
  const AxisView v(x.shape(), axis_of(op, "axis", x.rank()));
  HostTensor out(x.dtype(), x.shape());
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t i = 0; i < v.inner; ++i) {
      double acc = 0.0;
      int64_t iacc = 0;
      for (int64_t k = 0; k < v.n; ++k) {
        const int64_t at = v.at(o, k, i);
        if (x.is_float()) {
          acc += x.get(at);
          out.set(at, acc);
        } else {
          iacc = wrapping_add(iacc, x.ints()[at]);
          out.set_int(at, iacc);
        }
      }
    }
  return out;
}

}  // namespace

void register_reduction_kernels(ReferenceKernels& k) {
  k.add("reduce", reduce);
  k.add("softmax", softmax);
  k.add("argmax", argmax);
  k.add("topk", topk);
  k.add("cumsum", cumsum);
}

}  // namespace graphc
