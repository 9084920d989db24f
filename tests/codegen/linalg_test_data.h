// Test data for the matrix-product kernels: random activations and random
// weights in f32, bf16, f16 and the GGUF block formats, and their decoding
// by runtime/dequantize.cpp (the oracle).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "ir/dtype.h"
#include "runtime/dequantize.h"
#include "runtime/ggml_type.h"

namespace graphc::test_support {

inline std::vector<float> random_floats(int64_t n, uint32_t seed, float lo = -1, float hi = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

inline void put_f16(uint8_t* p, float v) {
  const uint16_t h = float_to_f16_bits(v);
  std::memcpy(p, &h, 2);
}

// A random [rows, K] weight in `type`: random quant bytes (every bit pattern
// is a valid block) with scales of a realistic size, so the decoded values
// are O(0.1..1) like the f32 ones.
inline std::vector<uint8_t> random_weight(GgmlType type, int64_t rows, int64_t K, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1), pos(0.2f, 1.0f);
  const int64_t bytes = *row_bytes(type, K) * rows;
  std::vector<uint8_t> w(bytes);
  for (auto& b : w) b = static_cast<uint8_t>(rng());
  const int64_t n_blocks = rows * K / block_elems(type), bb = block_bytes(type);
  for (int64_t i = 0; i < n_blocks; ++i) {
    uint8_t* blk = w.data() + i * bb;
    switch (type) {
      case GgmlType::F32:
        for (int64_t e = 0; e < rows * K; ++e) {
          const float v = u(rng);
          std::memcpy(w.data() + 4 * e, &v, 4);
        }
        return w;
      case GgmlType::BF16:
        for (int64_t e = 0; e < rows * K; ++e) {
          const uint16_t h = float_to_bf16_bits(u(rng));
          std::memcpy(w.data() + 2 * e, &h, 2);
        }
        return w;
      case GgmlType::F16:
        for (int64_t e = 0; e < rows * K; ++e) put_f16(w.data() + 2 * e, u(rng));
        return w;
      case GgmlType::Q8_0: put_f16(blk, pos(rng) / 127); break;
      case GgmlType::Q5_0: put_f16(blk, pos(rng) / 16); break;
      case GgmlType::Q4_K:
        put_f16(blk, pos(rng) / (15 * 63));
        put_f16(blk + 2, pos(rng) / 63);
        break;
      case GgmlType::Q6_K: put_f16(blk + 208, pos(rng) / (32 * 127)); break;
      default: ADD_FAILURE() << "no random weights for " << ggml_type_name(type); return w;
    }
  }
  return w;
}

inline std::vector<float> decoded(GgmlType type, const std::vector<uint8_t>& w, int64_t rows, int64_t K) {
  std::vector<float> out(rows * K);
  const int64_t rb = *row_bytes(type, K);
  for (int64_t r = 0; r < rows; ++r) {
    Status s = dequantize_row(type, w.data() + r * rb, out.data() + r * K, K);
    EXPECT_TRUE(s.ok());
  }
  return out;
}

}  // namespace graphc::test_support
