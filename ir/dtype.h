// Element types of tensor values and the scalar conversions between them.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace graphc {

// f64 exists for checking: gradient rules are verified against finite
// differences in double precision on the reference interpreter. The JIT
// backend compiles f64 elementwise code only.
enum class DType : uint8_t { f32, bf16, f16, i32, i64, boolean, f64 };

inline constexpr DType kAllDTypes[] = {DType::f32, DType::bf16, DType::f16, DType::i32,
                                       DType::i64, DType::boolean, DType::f64};

// Text form: f32, bf16, f16, i32, i64, bool, f64.
std::string_view dtype_name(DType t);
std::optional<DType> parse_dtype(std::string_view name);
int dtype_bytes(DType t);
inline bool is_floating(DType t) {
  return t == DType::f32 || t == DType::bf16 || t == DType::f16 || t == DType::f64;
}
inline bool is_integer(DType t) { return t == DType::i32 || t == DType::i64; }

// bfloat16: the upper half of an IEEE float, rounded to nearest even.
inline uint16_t float_to_bf16_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
inline float bf16_bits_to_float(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// IEEE half precision, rounded to nearest even; overflow goes to infinity.
uint16_t float_to_f16_bits(float f);
float f16_bits_to_float(uint16_t h);

// Rounds a float to the precision of `t` (identity for f32 and f64).
inline float round_to_dtype(float f, DType t) {
  if (t == DType::bf16) return bf16_bits_to_float(float_to_bf16_bits(f));
  if (t == DType::f16) return f16_bits_to_float(float_to_f16_bits(f));
  return f;
}

}  // namespace graphc
