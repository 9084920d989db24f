// Gemma-3 as IR: builds a module with
//   prefill(tokens: i32[seq]) -> f32[seq, vocab]   fills the KV caches from position 0
//   prefill_row(tokens: i32[seq], row: i32[]) -> f32[vocab]   the same, with the
//       logits of one position only (generation needs the last one)
//   decode_step(token: i32[], pos: i32[]) -> f32[vocab]   reads and appends to them
// for any Gemma3Config. Every architectural detail is in the graph: the
// embedding scaled by sqrt(hidden), four RMSNorms per layer with (1 + w),
// per-head q/k RMSNorm, RoPE with local and global bases (and the global
// linear scaling of 4B+), GQA, query_pre_attn_scalar, the 5 local : 1 global
// pattern with sliding-window masks, tanh-GELU GeGLU, the final norm and the
// tied LM head.
//
// Weights are globals named by gemma3_weight_name(). KV caches are state:
// layer.N.k_cache / layer.N.v_cache, f32[length, kv_heads * head_dim]. A
// sliding-window layer keeps a ring of exactly min(window, max_context)
// positions (position p in slot p mod length); a global layer keeps
// max_context positions. Callers must keep positions below max_context.
#pragma once

#include <memory>
#include <string>

#include "graphs/gemma3_config.h"
#include "ir/builder.h"
#include "ir/module.h"

namespace graphc {

// The graph's weight names, in Hugging Face's [out, in] layout:
//   embed [vocab, hidden], final_norm [hidden], and per layer N
//   layer.N.{attn_norm, post_attn_norm, pre_ffn_norm, post_ffn_norm} [hidden],
//   layer.N.{q_proj [H*hd, D], k_proj, v_proj [K*hd, D], o_proj [D, H*hd]},
//   layer.N.{q_norm, k_norm} [hd],
//   layer.N.{gate_proj, up_proj [F, D], down_proj [D, F]}.
// Norm weights are zero-centred (the gain is 1 + w).
std::string gemma3_layer_weight(int64_t layer, const char* what);
std::string gemma3_k_cache(int64_t layer);
std::string gemma3_v_cache(int64_t layer);

std::unique_ptr<Module> build_gemma3(const Gemma3Config& config);

// Builds, into `b`'s function, the forward pass over `tokens` (i32[seq],
// positions 0..seq-1) up to the input of the LM head: the final RMSNorm of
// the last layer's output, [seq, hidden]. No KV cache is touched. Training
// puts its own loss on top (graphs/cross_entropy.h). The module must hold
// build_gemma3's globals.
Val gemma3_final_hidden(Builder& b, const Gemma3Config& config, Val tokens);

}  // namespace graphc
