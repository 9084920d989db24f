#include "runtime/dequantize.h"

#include <cstring>

#include <fmt/format.h>

#include "ir/dtype.h"

namespace graphc {
namespace {

// Little-endian loads through memcpy: blocks sit at any byte offset of a
// mapped file, so typed pointers into them would be misaligned.
uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
float load_f16(const uint8_t* p) { return f16_bits_to_float(load_u16(p)); }

void dequantize_f32(const uint8_t* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * 4);
}
void dequantize_f16(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = load_f16(src + 2 * i);
}
void dequantize_bf16(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_bits_to_float(load_u16(src + 2 * i));
}

// Q8_0: d, then 32 signed bytes; y = d * q.
void q8_0_block(const uint8_t* b, float* y) {
  const float d = load_f16(b);
  for (int j = 0; j < 32; ++j) y[j] = d * static_cast<float>(static_cast<int8_t>(b[2 + j]));
}

// Q4_0 / Q4_1: byte j holds element j (low nibble) and element j + 16 (high).
void q4_0_block(const uint8_t* b, float* y) {
  const float d = load_f16(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>((qs[j] & 0xF) - 8);
    y[j + 16] = d * static_cast<float>((qs[j] >> 4) - 8);
  }
}
void q4_1_block(const uint8_t* b, float* y) {
  const float d = load_f16(b), m = load_f16(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>(qs[j] & 0xF) + m;
    y[j + 16] = d * static_cast<float>(qs[j] >> 4) + m;
  }
}

// Q5_0 / Q5_1: as Q4, plus a fifth bit for element i at bit i of a LE u32.
int q5_value(const uint8_t* qs, uint32_t qh, int i) {
  const int nibble = i < 16 ? (qs[i] & 0xF) : (qs[i - 16] >> 4);
  return nibble | static_cast<int>(((qh >> i) & 1u) << 4);
}
void q5_0_block(const uint8_t* b, float* y) {
  const float d = load_f16(b);
  const uint32_t qh = load_u32(b + 2);
  for (int i = 0; i < 32; ++i) y[i] = d * static_cast<float>(q5_value(b + 6, qh, i) - 16);
}
void q5_1_block(const uint8_t* b, float* y) {
  const float d = load_f16(b), m = load_f16(b + 2);
  const uint32_t qh = load_u32(b + 4);
  for (int i = 0; i < 32; ++i) y[i] = d * static_cast<float>(q5_value(b + 8, qh, i)) + m;
}

// K-quants pack eight 6-bit scales and eight 6-bit mins into 12 bytes: the
// first four of each whole in bytes 0-7, the last four split between a nibble
// of bytes 8-11 and the top two bits of bytes 0-7.
struct ScaleMin {
  int scale, min;
};
ScaleMin k_scale_min(const uint8_t* s, int j) {
  if (j < 4) return {s[j] & 63, s[j + 4] & 63};
  return {(s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4)};
}

// Q4_K and Q5_K: four chunks of 64 elements; chunk c reads 32 quant bytes,
// low nibbles are sub-block 2c, high nibbles sub-block 2c + 1. Q5_K adds bit
// 2c (low) or 2c + 1 (high) of qh[l] as the fifth bit.
void k_quant_block(const uint8_t* b, const uint8_t* qh, const uint8_t* qs, float* y) {
  const float d = load_f16(b), dmin = load_f16(b + 2);
  const uint8_t* scales = b + 4;
  for (int c = 0; c < 4; ++c) {
    const ScaleMin lo = k_scale_min(scales, 2 * c), hi = k_scale_min(scales, 2 * c + 1);
    const uint8_t* q = qs + 32 * c;
    for (int l = 0; l < 32; ++l) {
      int q_lo = q[l] & 0xF, q_hi = q[l] >> 4;
      if (qh) {
        q_lo |= ((qh[l] >> (2 * c)) & 1) << 4;
        q_hi |= ((qh[l] >> (2 * c + 1)) & 1) << 4;
      }
      y[64 * c + l] = d * static_cast<float>(lo.scale) * static_cast<float>(q_lo) -
                      dmin * static_cast<float>(lo.min);
      y[64 * c + 32 + l] = d * static_cast<float>(hi.scale) * static_cast<float>(q_hi) -
                           dmin * static_cast<float>(hi.min);
    }
  }
}
void q4_k_block(const uint8_t* b, float* y) { k_quant_block(b, nullptr, b + 16, y); }
void q5_k_block(const uint8_t* b, float* y) { k_quant_block(b, b + 16, b + 48, y); }

// Q6_K: ql[128], qh[64], int8 scales[16], d (last). Each half of 128 elements
// uses 64 ql bytes and 32 qh bytes; quarter k of the half takes its low four
// bits from ql (low nibbles for k = 0, 1, high for k = 2, 3) and its top two
// bits from bits 2k..2k+1 of qh. Every 16 elements share one scale.
void q6_k_block(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* scales = reinterpret_cast<const int8_t*>(b + 192);
  const float d = load_f16(b + 208);
  for (int half = 0; half < 2; ++half) {
    for (int k = 0; k < 4; ++k) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t low_byte = ql[64 * half + 32 * (k & 1) + l];
        const int low = k < 2 ? (low_byte & 0xF) : (low_byte >> 4);
        const int high = (qh[32 * half + l] >> (2 * k)) & 3;
        const int e = 128 * half + 32 * k + l;
        y[e] = d * static_cast<float>(scales[e / 16]) * static_cast<float>((low | (high << 4)) - 32);
      }
    }
  }
}

// Q8_K: f32 scale, 256 signed quants, then 16 block sums that decoding ignores.
void q8_k_block(const uint8_t* b, float* y) {
  float d;
  std::memcpy(&d, b, 4);
  for (int j = 0; j < 256; ++j) y[j] = d * static_cast<float>(static_cast<int8_t>(b[4 + j]));
}

using BlockFn = void (*)(const uint8_t*, float*);

BlockFn block_decoder(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_0: return q4_0_block;
    case GgmlType::Q4_1: return q4_1_block;
    case GgmlType::Q5_0: return q5_0_block;
    case GgmlType::Q5_1: return q5_1_block;
    case GgmlType::Q8_0: return q8_0_block;
    case GgmlType::Q4_K: return q4_k_block;
    case GgmlType::Q5_K: return q5_k_block;
    case GgmlType::Q6_K: return q6_k_block;
    case GgmlType::Q8_K: return q8_k_block;
    case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16: return nullptr;
  }
  return nullptr;
}

}  // namespace

bool can_dequantize(GgmlType t) { return block_elems(t) > 0; }

Status dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) {
  if (!row_bytes(type, n))
    return Error{fmt::format("dequantize {}: {} elements is not a whole number of {}-element blocks",
                             ggml_type_name(type), n, block_elems(type))};
  if (n == 0) return Status::success();
  const auto* bytes = static_cast<const uint8_t*>(src);
  switch (type) {
    case GgmlType::F32: dequantize_f32(bytes, dst, n); return Status::success();
    case GgmlType::F16: dequantize_f16(bytes, dst, n); return Status::success();
    case GgmlType::BF16: dequantize_bf16(bytes, dst, n); return Status::success();
    default: break;
  }
  const BlockFn decode = block_decoder(type);
  const int64_t elems = block_elems(type), stride = block_bytes(type);
  for (int64_t i = 0; i < n / elems; ++i) decode(bytes + i * stride, dst + i * elems);
  return Status::success();
}

}  // namespace graphc
