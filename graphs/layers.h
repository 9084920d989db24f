// Building blocks shared by the model builders, written with the IR builder
// in their unfused form; the fusion passes recognise these exact patterns.
#pragma once

#include "ir/builder.h"

namespace graphc {

// Gemma's RMSNorm over the last axis: x * rsqrt(mean(x^2) + eps) * (1 + w).
// The stored weight w is zero-centred (Hugging Face convention), so the gain
// is 1 + w; checkpoints that store 1 + w are converted when loaded.
Val rms_norm(Builder& b, Val x, Val w, double eps);

// gelu_tanh(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), PyTorch's
// approximate="tanh".
Val gelu_tanh(Builder& b, Val x);

// cos and sin tables of rotary embeddings for `positions` (i32[n]): shape
// [n, 1, head_dim/2], angle = position * base^(-2i/head_dim) / scale.
std::pair<Val, Val> rope_tables(Builder& b, Val positions, int64_t head_dim, double base, double scale,
                                DType t = DType::f32);

// Rotates x [n, heads, head_dim] by half-split (NeoX) pairs: element i pairs
// with element i + head_dim/2.
Val apply_rope(Builder& b, Val x, Val cos, Val sin);

// a && b for bool tensors.
Val logical_and(Builder& b, Val x, Val y);

}  // namespace graphc
