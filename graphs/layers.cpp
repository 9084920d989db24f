#include "graphs/layers.h"

#include <cmath>

namespace graphc {

Val rms_norm(Builder& b, Val x, Val w, double eps) {
  Val ms = b.mean(x * x, {-1}, /*keepdims=*/true);
  Val inv = b.rsqrt(ms + b.scalar(eps));
  return x * inv * (b.scalar(1.0) + w);
}

Val gelu_tanh(Builder& b, Val x) {
  Val inner = b.scalar(std::sqrt(2.0 / M_PI)) * (x + b.scalar(0.044715) * x * x * x);
  return b.scalar(0.5) * x * (b.scalar(1.0) + b.tanh(inner));
}

std::pair<Val, Val> rope_tables(Builder& b, Val positions, int64_t head_dim, double base, double scale) {
  const int64_t half = head_dim / 2;
  std::vector<double> inv_freq(half);
  for (int64_t i = 0; i < half; ++i)
    inv_freq[i] = std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim)) / scale;
  Val freqs = b.constant(inv_freq, TensorType(DType::f32, {half}));
  const Dim n = positions.shape()[0];
  Val pos = b.reshape(b.cast(positions, DType::f32), {n, 1, 1});
  Val angles = pos * freqs;  // [n, 1, half]
  return {b.cos(angles), b.sin(angles)};
}

Val apply_rope(Builder& b, Val x, Val cos, Val sin) {
  const Shape& s = x.shape();
  const int64_t half = s[2].value / 2;
  Val x1 = b.slice(x, {0, 0, 0}, {s[0], s[1], half});
  Val x2 = b.slice(x, {0, 0, half}, {s[0], s[1], s[2]});
  return b.concat({x1 * cos - x2 * sin, x2 * cos + x1 * sin}, 2);
}

Val logical_and(Builder& b, Val x, Val y) { return b.select(x, y, x); }

}  // namespace graphc
