// A one-layer, Gemma-style transformer block written with the builder: the
// small built-in model of the demo and of the IR tests. It has the same
// structure as a Gemma-3 layer (RMSNorm with (1 + w), multi-head causal
// attention, tanh-GELU GeGLU, post-norms before the residual adds) at toy size.
#pragma once

#include <cstdint>
#include <memory>

#include "ir/module.h"
#include "runtime/host_tensor.h"

namespace graphc {

struct TransformerBlockConfig {
  int64_t d_model = 16;
  int64_t heads = 2;
  int64_t head_dim = 8;
  int64_t ffn = 32;
  double rms_eps = 1e-6;
};

// Module @transformer_block with `func @forward(%x: f32[seq,d_model]) ->
// f32[seq,d_model]` and its weights as globals (names: attn_norm, wq, wk,
// wv, wo, post_attn_norm, ffn_norm, w_gate, w_up, w_down, post_ffn_norm).
std::unique_ptr<Module> build_transformer_block(const TransformerBlockConfig& c = {});

// Deterministic pseudo-random weights for every weight global of `m`
// (normal-ish, scale 0.2; norms near 0 so the gain 1 + w is near 1).
std::vector<std::pair<std::string, HostTensor>> demo_weights(const Module& m, uint64_t seed);

}  // namespace graphc
