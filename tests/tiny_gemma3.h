// The tiny Gemma-3 the tests share: two layers (layer 0 slides over a window
// of 4, layer 1 is global) and two query heads sharing one KV head (GQA, as
// in the 270M model). Small enough for the reference interpreter, large
// enough that a 13-token run wraps the sliding-window ring twice.
#pragma once

#include <cstdint>
#include <vector>

#include "graphs/gemma3_config.h"
#include "runtime/host_tensor.h"

namespace graphc::test_support {

inline Gemma3Config tiny_gemma3_config() {
  Gemma3Config c;
  c.name = "tiny";
  c.vocab = 48;
  c.hidden = 16;
  c.intermediate = 24;
  c.layers = 2;
  c.heads = 2;
  c.kv_heads = 1;
  c.head_dim = 8;
  c.query_pre_attn_scalar = 8;
  c.sliding_window = 4;
  c.global_every = 2;
  c.max_position = 64;
  c.max_context = 16;
  return c;
}

// A token sequence as prefill's i32[seq] argument.
inline HostTensor token_tensor(const std::vector<int64_t>& ids) {
  return HostTensor::from_ints(DType::i32, {static_cast<int64_t>(ids.size())}, ids);
}

}  // namespace graphc::test_support
