#include "graphs/layers.h"

#include <cmath>

namespace graphc {

// One op per statement: C++ leaves the evaluation order of an operator's
// operands unspecified, and the order ops are created in is the order they
// print in, so `f(a) * g(b)` could print differently under another compiler.

// Constants take the dtype of the input, so the layers build in any float
// type (f64 for gradient checks).

Val rms_norm(Builder& b, Val x, Val w, double eps) {
  const DType t = x.type().dtype;
  Val squares = x * x;
  Val ms = b.mean(squares, {-1}, /*keepdims=*/true);
  Val eps_v = b.scalar(eps, t);
  Val inv = b.rsqrt(ms + eps_v);
  Val normed = x * inv;
  Val one = b.scalar(1.0, t);
  Val gain = one + w;
  return normed * gain;
}

Val gelu_tanh(Builder& b, Val x) {
  const DType t = x.type().dtype;
  Val c = b.scalar(0.044715, t);
  Val cubic = c * x;
  cubic = cubic * x;
  cubic = cubic * x;
  Val sum = x + cubic;
  Val k = b.scalar(std::sqrt(2.0 / M_PI), t);
  Val inner = k * sum;
  Val half = b.scalar(0.5, t);
  Val half_x = half * x;
  Val one = b.scalar(1.0, t);
  Val th = b.tanh(inner);
  Val one_plus = one + th;
  return half_x * one_plus;
}

std::pair<Val, Val> rope_tables(Builder& b, Val positions, int64_t head_dim, double base, double scale, DType t) {
  const int64_t half = head_dim / 2;
  std::vector<double> inv_freq(half);
  for (int64_t i = 0; i < half; ++i)
    inv_freq[i] = std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim)) / scale;
  Val freqs = b.constant(inv_freq, TensorType(t, {half}));
  const Dim n = positions.shape()[0];
  Val pos = b.reshape(b.cast(positions, t), {n, 1, 1});
  Val angles = pos * freqs;  // [n, 1, half]
  return {b.cos(angles), b.sin(angles)};
}

Val apply_rope(Builder& b, Val x, Val cos, Val sin) {
  const Shape& s = x.shape();
  const int64_t half = s[2].value / 2;
  Val x1 = b.slice(x, {0, 0, 0}, {s[0], s[1], half});
  Val x2 = b.slice(x, {0, 0, half}, {s[0], s[1], s[2]});
  Val a = x1 * cos;
  Val c = x2 * sin;
  Val first = a - c;
  Val d = x2 * cos;
  Val e = x1 * sin;
  Val second = d + e;
  return b.concat({first, second}, 2);
}

Val logical_and(Builder& b, Val x, Val y) { return b.select(x, y, x); }

}  // namespace graphc
