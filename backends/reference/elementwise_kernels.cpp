// Reference semantics of the elementwise ops (ir/ops/elementwise.cpp).
#include <algorithm>
#include <climits>
#include <cmath>

#include "backends/reference/reference_kernels.h"
#include "ir/status.h"

namespace graphc {
namespace {

// Integer ops wrap around like two's complement hardware instead of
// overflowing (which would be undefined behaviour in C++).
int64_t wrapping(uint64_t v) { return static_cast<int64_t>(v); }

template <typename F>
ReferenceKernel unary(F f) {
  return [f](const Op& op, const Inputs& in, ReferenceContext&) {
    const HostTensor& x = *in[0];
    HostTensor out(x.dtype(), x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) out.set(i, f(static_cast<double>(x.get(i))));
    return out;
  };
}

template <typename FF, typename FI>
ReferenceKernel unary(FF on_float, FI on_int) {
  return [on_float, on_int](const Op& op, const Inputs& in, ReferenceContext&) {
    const HostTensor& x = *in[0];
    HostTensor out(x.dtype(), x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) {
      if (x.is_float()) out.set(i, on_float(static_cast<double>(x.get(i))));
      else out.set_int(i, on_int(x.ints()[i]));
    }
    return out;
  };
}

// Applies f to broadcast operands; Elem is double for floats, int64 for ints.
template <typename F>
HostTensor broadcast_map(const Inputs& in, DType out_dtype, const std::vector<int64_t>& out_shape, F f) {
  HostTensor out(out_dtype, out_shape);
  std::vector<int64_t> index(out_shape.size(), 0);
  std::vector<int64_t> src(in.size());
  if (out.numel() == 0) return out;
  int64_t flat = 0;
  do {
    for (size_t k = 0; k < in.size(); ++k) src[k] = broadcast_source_index(index, in[k]->shape());
    f(out, flat, src);
    ++flat;
  } while (next_index(index, out_shape));
  return out;
}

template <typename FF, typename FI>
ReferenceKernel binary(FF on_float, FI on_int) {
  return [on_float, on_int](const Op& op, const Inputs& in, ReferenceContext& ctx) {
    const DType t = in[0]->dtype();
    HostTensor out = broadcast_map(in, t, ctx.result_shape(op, 0),
                                   [&](HostTensor& o, int64_t i, const std::vector<int64_t>& s) {
                                     if (is_floating(t))
                                       o.set(i, on_float(static_cast<double>(in[0]->get(s[0])),
                                                         static_cast<double>(in[1]->get(s[1]))));
                                     else
                                       o.set_int(i, on_int(in[0]->ints()[s[0]], in[1]->ints()[s[1]]));
                                   });
    return out;
  };
}

int64_t checked_div(int64_t a, int64_t b) {
  if (b == 0) throw GraphcError("integer division by zero");
  if (b == -1) return wrapping(0 - uint64_t(a));  // INT64_MIN / -1 overflows
  return a / b;
}

bool compare(const std::string& p, double a, double b) {
  if (p == "eq") return a == b;
  if (p == "ne") return a != b;
  if (p == "lt") return a < b;
  if (p == "le") return a <= b;
  if (p == "gt") return a > b;
  return a >= b;  // "ge"; the verifier rejects anything else
}

}  // namespace

void register_elementwise_kernels(ReferenceKernels& k) {
  k.add("neg", unary([](double x) { return -x; }, [](int64_t x) { return wrapping(0 - uint64_t(x)); }));
  k.add("abs", unary([](double x) { return std::fabs(x); },
                     [](int64_t x) { return x < 0 ? wrapping(0 - uint64_t(x)) : x; }));
  k.add("exp", unary([](double x) { return std::exp(x); }));
  k.add("log", unary([](double x) { return std::log(x); }));
  k.add("tanh", unary([](double x) { return std::tanh(x); }));
  k.add("sqrt", unary([](double x) { return std::sqrt(x); }));
  k.add("rsqrt", unary([](double x) { return 1.0 / std::sqrt(x); }));
  k.add("sin", unary([](double x) { return std::sin(x); }));
  k.add("cos", unary([](double x) { return std::cos(x); }));

  k.add("add", binary([](double a, double b) { return a + b; }, [](int64_t a, int64_t b) { return wrapping(uint64_t(a) + uint64_t(b)); }));
  k.add("sub", binary([](double a, double b) { return a - b; },
                      [](int64_t a, int64_t b) { return wrapping(uint64_t(a) - uint64_t(b)); }));
  k.add("mul", binary([](double a, double b) { return a * b; },
                      [](int64_t a, int64_t b) { return wrapping(uint64_t(a) * uint64_t(b)); }));
  k.add("div", binary([](double a, double b) { return a / b; }, checked_div));
  k.add("max", binary([](double a, double b) { return std::isnan(a) || a > b ? a : b; },
                      [](int64_t a, int64_t b) { return std::max(a, b); }));
  k.add("min", binary([](double a, double b) { return std::isnan(a) || a < b ? a : b; },
                      [](int64_t a, int64_t b) { return std::min(a, b); }));
  k.add("pow", binary([](double a, double b) { return std::pow(a, b); },
                      [](int64_t, int64_t) -> int64_t { throw GraphcError("pow on integers"); }));

  k.add("compare", [](const Op& op, const Inputs& in, ReferenceContext& ctx) {
    const std::string& p = op.attr_string("predicate");
    HostTensor out = broadcast_map(in, DType::boolean, ctx.result_shape(op, 0),
                                   [&](HostTensor& o, int64_t i, const std::vector<int64_t>& s) {
                                     o.set_int(i, compare(p, in[0]->get(s[0]), in[1]->get(s[1])));
                                   });
    return out;
  });

  k.add("select", [](const Op& op, const Inputs& in, ReferenceContext& ctx) {
    HostTensor out = broadcast_map(in, in[1]->dtype(), ctx.result_shape(op, 0),
                                   [&](HostTensor& o, int64_t i, const std::vector<int64_t>& s) {
                                     const HostTensor& src = in[0]->ints()[s[0]] ? *in[1] : *in[2];
                                     const int64_t j = in[0]->ints()[s[0]] ? s[1] : s[2];
                                     if (src.is_float()) o.set(i, src.get(j));
                                     else o.set_int(i, src.ints()[j]);
                                   });
    return out;
  });

  k.add("cast", [](const Op& op, const Inputs& in, ReferenceContext&) {
    const HostTensor& x = *in[0];
    HostTensor out(op.attr("to").as_type(), x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) {
      if (!out.is_float() && x.is_float()) {
        const double v = x.get(i);
        int64_t n = saturating_to_int(v);
        if (out.dtype() == DType::i32) n = std::clamp<int64_t>(n, INT32_MIN, INT32_MAX);
        out.set_int(i, out.dtype() == DType::boolean ? v != 0.0 : n);
      } else if (x.is_float()) {
        out.set(i, x.get(i));
      } else {
        out.set_int(i, x.ints()[i]);
      }
    }
    return out;
  });
}

}  // namespace graphc
