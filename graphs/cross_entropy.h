// Cross-entropy of a tied LM head, in chunks of rows: the [seq, vocab] logits
// (262144 columns for Gemma-3) and their gradient are never materialised;
// each chunk's logits live for one iteration of a loop.
//
// The loss needs no autodiff: its gradient with respect to the hidden
// states is computed in the same loop (softmax minus one-hot, times the
// table), and training seeds autodiff at the hidden states with it.
#pragma once

#include <cstdint>

#include "ir/builder.h"

namespace graphc {

struct CrossEntropy {
  Val loss_sum;     // f32[]: sum over rows of weight_i * nll_i * inv_count
  Val grad_hidden;  // [n, D]: d loss_sum / d hidden
  Val grad_table;   // [V, D]: d loss_sum / d table (null unless asked for)
};

// hidden [n, D] are the LM head's inputs; table [V, D] the (tied) head, so
// logits = hidden table^T; targets i32[n]; weights f32[n] are 1 for tokens
// that count and 0 for padding and prompt tokens (the ignore mask: a
// target outside [0, V) must have weight 0); inv_count f32[] scales the sum,
// 1 / (number of counted tokens) for a mean. `chunk` must divide n.
CrossEntropy chunked_cross_entropy(Builder& b, Val hidden, Val table, Val targets, Val weights, Val inv_count,
                                   int64_t chunk, bool grad_table = false);

// The largest divisor of n that is at most `chunk`.
int64_t cross_entropy_chunk(int64_t n, int64_t chunk);

}  // namespace graphc
