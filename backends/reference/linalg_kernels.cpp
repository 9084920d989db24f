// Reference semantics of matmul (ir/ops/linalg.cpp): for every batch index of
// the result, the matching (broadcast) matrices of a and b are multiplied with
// a double accumulator, summing k in increasing order, and each result element
// is rounded once to the dtype.
#include "backends/reference/reference_kernels.h"

namespace graphc {
namespace {

// One matrix operand: its batch dims and where element (row, col) of the
// (possibly transposed) logical matrix is stored within one batch entry.
struct MatrixView {
  std::vector<int64_t> batch;
  int64_t rows = 0, cols = 0;  // logical, after the transpose
  bool transposed = false;

  MatrixView(const std::vector<int64_t>& shape, bool transpose)
      : batch(shape.begin(), shape.end() - 2), transposed(transpose) {
    const int64_t r = shape[shape.size() - 2], c = shape.back();
    rows = transpose ? c : r;
    cols = transpose ? r : c;
  }
  int64_t size() const { return rows * cols; }
  int64_t at(int64_t row, int64_t col) const { return transposed ? col * rows + row : row * cols + col; }
};

KernelResults matmul(const Op& op, const Inputs& in, ReferenceContext& ctx) {
  const HostTensor& a = *in[0];
  const HostTensor& b = *in[1];
  const MatrixView va(a.shape(), op.attr_bool("transpose_a"));
  const MatrixView vb(b.shape(), op.attr_bool("transpose_b"));
  HostTensor out(a.dtype(), ctx.result_shape(op, 0));
  const std::vector<int64_t> batch(out.shape().begin(), out.shape().end() - 2);
  const int64_t m = va.rows, k = va.cols, n = vb.cols;
  if (out.numel() == 0) return out;

  // One product of [m, k] by [k, n] matrices starting at element offsets
  // oa and ob; At(t, i) reads element i of tensor t.
  auto multiply = [&](int64_t oa, int64_t ob, int64_t base, auto at) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0.0;
        for (int64_t p = 0; p < k; ++p) acc += at(a, oa + va.at(i, p)) * at(b, ob + vb.at(p, j));
        out.set(base + i * n + j, acc);
      }
  };
  const bool floats = a.has_float_storage() && b.has_float_storage();
  std::vector<int64_t> index(batch.size(), 0);
  int64_t entry = 0;
  do {
    const int64_t oa = broadcast_source_index(index, va.batch) * va.size();
    const int64_t ob = broadcast_source_index(index, vb.batch) * vb.size();
    if (floats)  // the common case, without get()'s dtype test per element
      multiply(oa, ob, entry * m * n, [](const HostTensor& t, int64_t i) { return double(t.floats()[i]); });
    else
      multiply(oa, ob, entry * m * n, [](const HostTensor& t, int64_t i) { return t.get(i); });
    ++entry;
  } while (next_index(index, batch));
  return out;
}

}  // namespace

void register_linalg_kernels(ReferenceKernels& k) { k.add("matmul", matmul); }

}  // namespace graphc
