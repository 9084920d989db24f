// Reference semantics of the fused ops (ir/ops/fused.cpp).
//
// Each kernel replays its unfused pattern step by step: every intermediate
// the pattern would have stored in a tensor is rounded to the dtype here too
// (`round_as`), sums that a reduce or matmul accumulates in double are
// accumulated in double in the same order, and constants are rounded to the
// dtype as the pattern's constant ops rounded them. So a fused program gives
// the same bits as the unfused one on this interpreter; the tests in
// tests/passes/test_fusions.cpp check that.
#include <cmath>

#include "backends/reference/reference_kernels.h"
#include "ir/op_registry.h"
#include "ir/status.h"

namespace graphc {
namespace {

// What storing v in a tensor of dtype t keeps (HostTensor::set).
double round_as(double v, DType t) { return t == DType::f64 ? v : round_to_dtype(static_cast<float>(v), t); }

// NaN-aware "a is larger than b", as softmax's maximum uses it.
bool greater(double a, double b) {
  if (std::isnan(a)) return !std::isnan(b);
  if (std::isnan(b)) return false;
  return a > b;
}

// x * rsqrt(mean(x * x) + eps) * (1 + w), rounded after every op of
// graphs/layers.cpp rms_norm.
KernelResults rms_norm(const Op& op, const Inputs& in, ReferenceContext&) {
  const HostTensor& x = *in[0];
  const HostTensor& w = *in[1];
  const DType t = x.dtype();
  const int64_t d = x.shape().back();
  const double eps = round_as(op.attr_float("eps"), t);
  const double one = round_as(1.0, t);
  HostTensor out(t, x.shape());
  if (d == 0) return out;
  for (int64_t row = 0; row < x.numel() / d; ++row) {
    const int64_t xr = row * d;
    double acc = 0.0;
    for (int64_t i = 0; i < d; ++i) acc += round_as(x.get(xr + i) * x.get(xr + i), t);
    const double ms = round_as(acc / static_cast<double>(d), t);
    const double inv = round_as(1.0 / std::sqrt(round_as(ms + eps, t)), t);
    for (int64_t i = 0; i < d; ++i) {
      const double scaled = round_as(x.get(xr + i) * inv, t);
      const double gain = round_as(one + double(w.get(i)), t);
      out.set(row * d + i, scaled * gain);
    }
  }
  return out;
}

// [x1 cos - x2 sin, x2 cos + x1 sin] over the halves of the last axis, as
// graphs/layers.cpp apply_rope (slices, four products, a difference, a sum
// and a concat).
KernelResults rope(const Op& op, const Inputs& in, ReferenceContext&) {
  const HostTensor& x = *in[0];
  const HostTensor& cos = *in[1];
  const HostTensor& sin = *in[2];
  const DType t = x.dtype();
  const int64_t half = x.shape().back() / 2;
  std::vector<int64_t> half_shape = x.shape();
  half_shape.back() = half;
  HostTensor out(t, x.shape());
  if (x.numel() == 0) return out;
  std::vector<int64_t> index(half_shape.size(), 0);
  int64_t flat = 0;  // over half_shape
  do {
    const int64_t row = flat / half, i = flat % half;
    const double x1 = x.get(row * 2 * half + i);
    const double x2 = x.get(row * 2 * half + half + i);
    const double c = cos.get(broadcast_source_index(index, cos.shape()));
    const double s = sin.get(broadcast_source_index(index, sin.shape()));
    out.set(row * 2 * half + i, round_as(x1 * c, t) - round_as(x2 * s, t));
    out.set(row * 2 * half + half + i, round_as(x2 * c, t) + round_as(x1 * s, t));
    ++flat;
  } while (next_index(index, half_shape));
  return out;
}

// For each query head h (KV head h / G) and query row i: scores against every
// key row j, scaled, masked, softmax, then the probabilities times v, as the
// reshape / matmul / mul / select / softmax / matmul pattern computes them.
KernelResults attention(const Op& op, const Inputs& in, ReferenceContext& ctx) {
  const HostTensor& q = *in[0];
  const HostTensor& k = *in[1];
  const HostTensor& v = *in[2];
  const HostTensor& mask = *in[3];
  const DType t = q.dtype();
  const int64_t H = q.dim(0), n = q.dim(1), hd = q.dim(2);
  const int64_t K = k.dim(0), T = k.dim(1), dv = v.dim(2);
  const int64_t G = H / K;
  const double scale = round_as(op.attr_float("scale"), t);
  const double fill = round_as(op.attr_float("mask_value"), t);
  HostTensor out(t, ctx.result_shape(op, 0));
  std::vector<double> p(T), e(T);
  for (int64_t h = 0; h < H; ++h) {
    const int64_t kv = h / G;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t qi = (h * n + i) * hd;
      for (int64_t j = 0; j < T; ++j) {
        const int64_t kj = (kv * T + j) * hd;
        double acc = 0.0;
        for (int64_t c = 0; c < hd; ++c) acc += q.get(qi + c) * k.get(kj + c);
        const double score = round_as(round_as(acc, t) * scale, t);
        const int64_t m = broadcast_source_index({i, j}, mask.shape());
        p[j] = mask.ints()[m] ? score : fill;
      }
      double top = -INFINITY;
      for (int64_t j = 0; j < T; ++j)
        if (greater(p[j], top)) top = p[j];
      double sum = 0.0;
      for (int64_t j = 0; j < T; ++j) sum += e[j] = std::exp(p[j] - top);
      for (int64_t j = 0; j < T; ++j) p[j] = round_as(e[j] / sum, t);
      for (int64_t c = 0; c < dv; ++c) {
        double acc = 0.0;
        for (int64_t j = 0; j < T; ++j) acc += p[j] * double(v.get((kv * T + j) * dv + c));
        out.set((h * n + i) * dv + c, acc);
      }
    }
  }
  return out;
}

// gelu_tanh(x) rounded after every op of graphs/layers.cpp gelu_tanh:
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x x x))).
double gelu_tanh_as(double x, DType t) {
  static const double kSqrt2OverPi = std::sqrt(2.0 / M_PI);
  const double cube = round_as(round_as(round_as(round_as(0.044715, t) * x, t) * x, t) * x, t);
  const double inner = round_as(round_as(kSqrt2OverPi, t) * round_as(x + cube, t), t);
  const double half_x = round_as(round_as(0.5, t) * x, t);
  return round_as(half_x * round_as(round_as(1.0, t) + round_as(std::tanh(inner), t), t), t);
}

KernelResults geglu(const Op& op, const Inputs& in, ReferenceContext& ctx) {
  const HostTensor& h = *in[0];
  const HostTensor& wg = *in[1];
  const HostTensor& wu = *in[2];
  const DType t = h.dtype();
  const int64_t D = wg.dim(1), F = wg.dim(0);
  HostTensor out(t, ctx.result_shape(op, 0));
  const int64_t rows = F == 0 ? 0 : out.numel() / F;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t hr = r * D;
    for (int64_t f = 0; f < F; ++f) {
      double gate = 0.0, up = 0.0;
      for (int64_t c = 0; c < D; ++c) {
        gate += h.get(hr + c) * wg.get(f * D + c);
        up += h.get(hr + c) * wu.get(f * D + c);
      }
      out.set(r * F + f, gelu_tanh_as(round_as(gate, t), t) * round_as(up, t));
    }
  }
  return out;
}

// Runs the body's ops on whole tensors: each is elementwise, so applying it
// to the broadcast operands gives, element by element, what applying it to
// scalars would. Every body op's result shape is the broadcast of its
// operands' shapes; the yielded value is finally broadcast to the result.
class ElementwiseBody : public ReferenceContext {
 public:
  ElementwiseBody(ReferenceContext& outer) : outer_(outer) {}

  std::vector<int64_t> result_shape(const Op& op, int) override {
    std::vector<int64_t> s;
    for (const Value* v : op.operands()) {
      const std::vector<int64_t>& o = env_.at(v)->shape();
      if (o.size() > s.size()) s.insert(s.begin(), o.size() - s.size(), 1);
      for (size_t d = 0; d < o.size(); ++d) {
        int64_t& sd = s[s.size() - o.size() + d];
        if (sd == 1) sd = o[d];
      }
    }
    return s;
  }
  std::vector<TensorPtr> run_region(const Block& region, std::vector<TensorPtr> args) override {
    for (int i = 0; i < region.num_args(); ++i) env_[region.arg(i)] = std::move(args[i]);
    for (const auto& op : region.ops()) {
      if (op->def().is_terminator) {
        std::vector<TensorPtr> out;
        for (const Value* v : op->operands()) out.push_back(env_.at(v));
        return out;
      }
      const ReferenceKernel* kernel = ReferenceKernels::instance().find(op->name());
      if (!kernel) throw GraphcError("no reference semantics for op '" + op->name() + "'");
      Inputs inputs;
      for (const Value* v : op->operands()) inputs.push_back(env_.at(v));
      KernelResults r = (*kernel)(*op, inputs, *this);
      for (int i = 0; i < op->num_results(); ++i) env_[op->result(i)] = r.values.at(i);
    }
    throw GraphcError("fused_elementwise: body has no yield");
  }
  std::vector<TensorPtr> call(const std::string& f, std::vector<TensorPtr> args) override {
    return outer_.call(f, std::move(args));
  }
  TensorPtr weight(const std::string& name) override { return outer_.weight(name); }
  TensorPtr state_at_entry(const std::string& name) override { return outer_.state_at_entry(name); }
  void set_state(const std::string& name, TensorPtr value) override { outer_.set_state(name, std::move(value)); }

 private:
  ReferenceContext& outer_;
  std::map<const Value*, TensorPtr> env_;
};

KernelResults fused_elementwise(const Op& op, const Inputs& in, ReferenceContext& ctx) {
  ElementwiseBody body(ctx);
  const TensorPtr y = body.run_region(*op.region(0), in).at(0);
  HostTensor out(y->dtype(), ctx.result_shape(op, 0));
  if (out.numel() == 0) return out;
  std::vector<int64_t> index(out.rank(), 0);
  int64_t flat = 0;
  do {
    const int64_t from = broadcast_source_index(index, y->shape());
    if (out.is_float()) out.set(flat, y->get(from));
    else out.ints()[flat] = y->ints()[from];
    ++flat;
  } while (next_index(index, out.shape()));
  return out;
}

}  // namespace

void register_fused_kernels(ReferenceKernels& k) {
  k.add("rms_norm", rms_norm);
  k.add("rope", rope);
  k.add("attention", attention);
  k.add("geglu", geglu);
  k.add("fused_elementwise", fused_elementwise);
}

}  // namespace graphc
