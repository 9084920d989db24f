// Lowerings of the shape ops (ir/ops/shape_ops.cpp): transpose, broadcast
// and slice are strided copies; concat, dynamic_slice,
// dynamic_update_slice and gather have templates of their own
// (codegen/kernels/shape.c).
#include "codegen/kernel_call.h"
#include "codegen/lowering_support.h"

namespace graphc {
namespace {

using namespace lowering;
using A = KernelArg;

// dst (buffer `out`) = src (buffer `in`) read at src_offset + sum(i_k s_k)
// over the output's index space, padded to six dims.
KernelCall strided_copy(const BufferInfo& result, int in, int out, int64_t offset, std::vector<int64_t> src_strides) {
  std::vector<int64_t> dims = pad_front(result.shape, 6, 1);
  src_strides = pad_front(src_strides, 6, 0);
  KernelCall k{"gk_strided_copy_" + element_suffix(result.dtype), {A::buf(out), A::buf(in), A::i(offset)}};
  for (int64_t d : dims) k.args.push_back(A::i(d));
  for (int64_t s : src_strides) k.args.push_back(A::i(s));
  k.extent = product(dims, 0, 5);
  k.grain = grain_for(dims[5]);
  return k;
}

Expected<KernelCall> transpose(const LoweringContext& ctx) {
  const std::vector<int64_t> perm = ctx.op.attr_ints("perm");
  const std::vector<int64_t> in_strides = strides_of(ctx.operands[0].shape);
  std::vector<int64_t> s;
  for (int64_t p : perm) s.push_back(in_strides[p]);
  if (s.size() > 6) return unsupported(ctx, "rank above 6");
  return strided_copy(ctx.results[0], 0, 1, 0, s);
}

Expected<KernelCall> broadcast(const LoweringContext& ctx) {
  const auto& in = ctx.operands[0].shape;
  const auto& out = ctx.results[0].shape;
  if (out.size() > 6) return unsupported(ctx, "rank above 6");
  const std::vector<int64_t> in_strides = strides_of(in);
  std::vector<int64_t> s(out.size(), 0);
  for (size_t k = 0; k < in.size(); ++k) {
    const size_t d = out.size() - in.size() + k;
    s[d] = in[k] == 1 ? 0 : in_strides[k];
  }
  return strided_copy(ctx.results[0], 0, 1, 0, s);
}

Expected<KernelCall> slice(const LoweringContext& ctx) {
  const auto& in = ctx.operands[0].shape;
  if (in.size() > 6) return unsupported(ctx, "rank above 6");
  const std::vector<int64_t> in_strides = strides_of(in);
  const std::vector<Dim>& start = ctx.op.attr("start").as_dims();
  const std::vector<int64_t> stride = ctx.op.attr("stride").as_ints();
  int64_t offset = 0;
  std::vector<int64_t> s(in.size());
  for (size_t d = 0; d < in.size(); ++d) {
    offset += start.at(d).value * in_strides[d];
    s[d] = in_strides[d] * (stride.empty() ? 1 : stride[d]);
  }
  return strided_copy(ctx.results[0], 0, 1, offset, s);
}

Expected<KernelCall> concat(const LoweringContext& ctx) {
  const int n = static_cast<int>(ctx.operands.size());
  if (n > 4) return unsupported(ctx, "more than four inputs");
  const auto& out = ctx.results[0].shape;
  const int axis = normalized_axis(ctx.op.attr_int("axis"), out.size());
  const AxisView v = around_axis(out, axis);
  KernelCall k{"gk_concat_" + element_suffix(ctx.results[0].dtype), {A::buf(n)}};
  for (int i = 0; i < 4; ++i) k.args.push_back(A::buf(i < n ? i : 0));
  k.args.push_back(A::i(v.inner));
  for (int i = 0; i < 4; ++i) k.args.push_back(A::i(i < n ? ctx.operands[i].shape.at(axis) : 0));
  k.extent = v.outer;
  k.grain = grain_for(v.n * v.inner);
  return k;
}

// Starts are operands first_start.. (one per axis), i32 or i64.
Expected<std::pair<std::vector<A>, int64_t>> starts(const LoweringContext& ctx, int first_start, size_t rank) {
  if (rank > 4) return unsupported(ctx, "rank above 4");
  std::vector<A> args;
  int64_t is64 = 0;
  const size_t pad = 4 - rank;
  for (size_t d = 0; d < 4; ++d) {
    if (d < pad) {
      args.push_back(A::buf(first_start));  // any buffer: a dim of 1 clamps its start to 0
      if (ctx.operands[first_start].dtype == DType::i64) is64 |= int64_t{1} << d;
      continue;
    }
    const int op = first_start + static_cast<int>(d - pad);
    if (ctx.operands[op].dtype == DType::i64) is64 |= int64_t{1} << d;
    args.push_back(A::buf(op));
  }
  return std::make_pair(args, is64);
}

Expected<KernelCall> dynamic_slice(const LoweringContext& ctx) {
  const auto& x = ctx.operands[0].shape;
  const auto& o = ctx.results[0].shape;
  auto st = starts(ctx, 1, x.size());
  if (!st.ok()) return st.error();
  const int out = static_cast<int>(ctx.operands.size());
  KernelCall k{"gk_dynamic_slice_" + element_suffix(ctx.results[0].dtype), {A::buf(out), A::buf(0)}};
  k.args.insert(k.args.end(), st->first.begin(), st->first.end());
  k.args.push_back(A::i(st->second));
  for (int64_t d : pad_front(x, 4, 1)) k.args.push_back(A::i(d));
  const std::vector<int64_t> od = pad_front(o, 4, 1);
  for (int64_t d : od) k.args.push_back(A::i(d));
  k.extent = product(od, 0, 3);
  k.grain = grain_for(od[3]);
  return k;
}

Expected<KernelCall> dynamic_update_slice(const LoweringContext& ctx) {
  const auto& x = ctx.operands[0].shape;
  const auto& u = ctx.operands[1].shape;
  auto st = starts(ctx, 2, x.size());
  if (!st.ok()) return st.error();
  const int out = static_cast<int>(ctx.operands.size());
  KernelCall k{"gk_dynamic_update_slice_" + element_suffix(ctx.results[0].dtype), {A::buf(out), A::buf(0), A::buf(1)}};
  k.args.insert(k.args.end(), st->first.begin(), st->first.end());
  k.args.push_back(A::i(st->second));
  const std::vector<int64_t> xd = pad_front(x, 4, 1);
  for (int64_t d : xd) k.args.push_back(A::i(d));
  for (int64_t d : pad_front(u, 4, 1)) k.args.push_back(A::i(d));
  k.extent = product(xd, 0, 3);
  k.grain = grain_for(xd[3]);
  return k;
}

Expected<KernelCall> gather(const LoweringContext& ctx) {
  const BufferInfo& table = ctx.operands[0];
  const BufferInfo& idx = ctx.operands[1];
  if (!is_integer(idx.dtype)) return unsupported(ctx, "indices must be i32 or i64");
  const int axis = normalized_axis(ctx.op.attr_int("axis"), table.shape.size());
  const AxisView v = around_axis(table.shape, axis);
  const int64_t m = idx.numel();
  const int64_t idx64 = idx.dtype == DType::i64;
  if (table.packed) {
    if (table.shape.size() != 2 || axis != 0) return unsupported(ctx, "a packed table is gathered by rows");
    const auto row = row_bytes(*table.packed, table.shape[1]);
    if (!row) return unsupported(ctx, "rows are not whole blocks");
    KernelCall k{"gk_gather_packed_rows",
                 {A::buf(2), A::buf(0), A::buf(1), A::i(idx64), A::i(static_cast<int64_t>(*table.packed)),
                  A::i(table.shape[0]), A::i(table.shape[1]), A::i(*row)}};
    k.extent = m;
    k.grain = grain_for(table.shape[1] * 4);
    return k;
  }
  KernelCall k{"gk_gather_" + element_suffix(table.dtype),
               {A::buf(2), A::buf(0), A::buf(1), A::i(idx64), A::i(v.n), A::i(v.inner), A::i(m)}};
  k.extent = v.outer * m;
  k.grain = grain_for(v.inner);
  return k;
}

// Work items are columns of the rows, so each task adds every update to its
// columns in index order: the sums do not depend on the thread count.
Expected<KernelCall> scatter_add(const LoweringContext& ctx) {
  const BufferInfo& base = ctx.operands[0];
  const BufferInfo& idx = ctx.operands[1];
  if (base.dtype != DType::f32) return unsupported(ctx, "scatter_add runs on f32");
  const int64_t n = base.shape[0];
  const int64_t inner = n == 0 ? 0 : base.numel() / n;
  KernelCall k{"gk_scatter_add_rows_f32",
               {A::buf(3), A::buf(0), A::buf(1), A::buf(2), A::i(idx.dtype == DType::i64), A::i(n), A::i(inner),
                A::i(idx.numel())}};
  k.extent = inner;
  k.grain = grain_for(n + idx.numel());
  return k;
}

}  // namespace

void register_shape_lowerings(KernelLowerings& l) {
  l.add("transpose", transpose);
  l.add("broadcast", broadcast);
  l.add("slice", slice);
  l.add("concat", concat);
  l.add("dynamic_slice", dynamic_slice);
  l.add("dynamic_update_slice", dynamic_update_slice);
  l.add("gather", gather);
  l.add("scatter_add", scatter_add);
}

}  // namespace graphc
