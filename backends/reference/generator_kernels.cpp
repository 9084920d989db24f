// Reference semantics of the generators (ir/ops/generators.cpp).
//
// random_uniform is counter-based. Every backend must compute exactly this
// (all arithmetic on uint64, wrapping modulo 2^64; the seed's int64 bits are
// read as uint64):
//
//   G = 0x9E3779B97F4A7C15                      (2^64 / golden ratio)
//   fmix(z):  z ^= z >> 30;  z *= 0xBF58476D1CE4E5B9;
//             z ^= z >> 27;  z *= 0x94D049BB133111EB;
//             z ^= z >> 31;  return z               (the splitmix64 finaliser)
//   mix64(seed, c) = fmix(seed * G + c)
//
//   element j (flat row-major index 0 .. n-1):  bits = mix64(seed, j + 1)
//     f32:  (bits >> 40) * 2^-24     (top 24 bits)
//     f16:  (bits >> 53) * 2^-11     (top 11 bits)
//     bf16: (bits >> 56) * 2^-8      (top 8 bits)
//   next seed = int64(mix64(seed, 2^63))
//
// Each dtype takes as many top bits as its significand holds, so every value
// is exact in the dtype and strictly below 1 (24 bits would round up to 1.0
// in bf16 and f16). No element uses counter 2^63, and fmix is a bijection, so
// the next seed is never one of this call's bit patterns; and unlike counter
// 0 it has no fixed point at seed 0 (fmix(0) = 0).
#include <cstdint>

#include "backends/reference/reference_kernels.h"
#include "ir/op_registry.h"
#include "ir/status.h"

namespace graphc {
namespace {

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;
constexpr uint64_t kNextSeedCounter = uint64_t{1} << 63;

uint64_t fmix(uint64_t z) {
  z ^= z >> 30;
  z *= 0xBF58476D1CE4E5B9ull;
  z ^= z >> 27;
  z *= 0x94D049BB133111EBull;
  z ^= z >> 31;
  return z;
}

uint64_t mix64(int64_t seed, uint64_t counter) { return fmix(static_cast<uint64_t>(seed) * kGolden + counter); }

int significand_bits(DType t) {
  if (t == DType::bf16) return 8;
  if (t == DType::f16) return 11;
  if (t == DType::f64) return 53;
  return 24;
}

KernelResults constant(const Op& op, const Inputs&, ReferenceContext& ctx) {
  HostTensor out(op.attr("dtype").as_type(), ctx.result_shape(op, 0));
  const Attribute& value = op.attr("value");
  switch (value.kind()) {
    case AttrKind::Int:
      for (int64_t i = 0; i < out.numel(); ++i) out.set_int(i, value.as_int());
      break;
    case AttrKind::Float:
      for (int64_t i = 0; i < out.numel(); ++i) out.set(i, value.as_float());
      break;
    case AttrKind::Floats: {
      const std::vector<double>& vs = value.as_floats();
      if (static_cast<int64_t>(vs.size()) != out.numel()) throw GraphcError("constant: value has the wrong length");
      for (int64_t i = 0; i < out.numel(); ++i) out.set(i, vs[i]);
      break;
    }
    case AttrKind::Dims: {
      const std::vector<int64_t> vs = value.as_ints();
      if (static_cast<int64_t>(vs.size()) != out.numel()) throw GraphcError("constant: value has the wrong length");
      for (int64_t i = 0; i < out.numel(); ++i) out.set_int(i, vs[i]);
      break;
    }
    default:
      throw GraphcError("constant: value must be a number or a list, got " + value.str());
  }
  return out;
}

KernelResults iota(const Op& op, const Inputs&, ReferenceContext& ctx) {
  HostTensor out(op.attr("dtype").as_type(), ctx.result_shape(op, 0));
  const auto axis = normalize_axis(op.attr_int("axis"), out.rank());
  if (!axis) throw GraphcError("iota: axis is out of range");
  const int64_t stride = row_major_strides(out.shape())[*axis];
  const int64_t n = out.dim(*axis);
  for (int64_t i = 0; i < out.numel(); ++i) out.set_int(i, (i / stride) % n);
  return out;
}

KernelResults random_uniform(const Op& op, const Inputs& in, ReferenceContext& ctx) {
  const int64_t seed = in[0]->ints().at(0);
  HostTensor values(op.attr("dtype").as_type(), ctx.result_shape(op, 0));
  const int bits = significand_bits(values.dtype());
  const double scale = 1.0 / static_cast<double>(uint64_t{1} << bits);
  for (int64_t j = 0; j < values.numel(); ++j)
    values.set(j, static_cast<double>(mix64(seed, static_cast<uint64_t>(j) + 1) >> (64 - bits)) * scale);
  HostTensor next(DType::i64, {});
  next.set_int(0, static_cast<int64_t>(mix64(seed, kNextSeedCounter)));
  return std::vector<HostTensor>{std::move(values), std::move(next)};
}

}  // namespace

void register_generator_kernels(ReferenceKernels& k) {
  k.add("constant", constant);
  k.add("iota", iota);
  k.add("random_uniform", random_uniform);
}

}  // namespace graphc
