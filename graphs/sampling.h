// Choosing the next token from logits, as IR: greedy (argmax) or sampling
// with temperature, top-k, top-p (nucleus) and a repetition penalty, from an
// explicit seed (the same seed gives the same token). Built from the IR's own
// ops, so the reference interpreter defines what each strategy does and every
// backend does exactly that.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "ir/builder.h"
#include "ir/status.h"

namespace graphc {

struct SamplingConfig {
  std::string strategy = "greedy";  // greedy or sample
  double temperature = 1.0;         // logits / temperature; > 0
  int64_t top_k = 0;                // keep the k most likely tokens (0: all)
  double top_p = 1.0;               // keep the fewest most likely tokens whose probability reaches top_p
  double repetition_penalty = 1.0;  // seen tokens: positive logits / p, negative logits * p (CTRL's rule)
};

// An error naming the field for a config out of range.
Status validate(const SamplingConfig& c, int64_t vocab);

// The next token (i32[]) from `logits` (f32[V]) and the next seed (i64[]).
// `seen` (f32[V], 1 where a token has appeared) is read only when
// repetition_penalty != 1. Greedy ignores the seed and returns it unchanged.
//
// Sampling draws u ~ U[0, 1) from the seed (random_uniform), and picks the
// first token, in descending probability order, whose cumulative probability
// exceeds u times the kept mass.
std::pair<Val, Val> sample_token(Builder& b, Val logits, Val seen, Val seed, const SamplingConfig& config);

}  // namespace graphc
