// Text generation as IR: adds to a Gemma-3 module (graphs/gemma3.h)
//
//   generate(prompt: i32[seq], seed: i64[]) -> (tokens: i32[N], count: i32[])
//
// which runs prefill on the prompt, then a loop of at most N steps: choose a
// token (graphs/sampling.h), write it to `tokens`, hand it to the host
// (`emit` on channel "token", so it streams out as it is produced; the host's
// answer true means "stop", e.g. for a stop string), and stop on a stop token
// (end of sequence, end of turn) or the host's answer; otherwise decode_step
// on the token. `count` is how many tokens were produced before any stop
// token; tokens past the stop are 0.
#pragma once

#include <vector>

#include "graphs/gemma3_config.h"
#include "graphs/sampling.h"
#include "ir/module.h"

namespace graphc {

struct GenerateConfig {
  int64_t max_new_tokens = 64;       // N
  SamplingConfig sampling;
  std::vector<int32_t> stop_tokens;  // e.g. <eos> = 1 and <end_of_turn> = 106 for Gemma
};

// Adds @generate to `module`, which must hold @prefill and @decode_step for
// `config`. An error names what is out of range (prompt + N must fit the
// model's max_context, which the caller checks per prompt).
Status add_generate(Module& module, const Gemma3Config& config, const GenerateConfig& generate);

// Adds
//
//   generate_batch(prompts: i32[batch, seq], lengths: i32[batch], seed: i64[])
//       -> (tokens: i32[batch, N], counts: i32[batch])
//
// which generates for every prompt in one program, one after another: row r
// holds a prompt of lengths[r] tokens padded to seq, and is sampled with seed
// + r, so its tokens equal generate's on that prompt alone. Before each
// prompt it emits r on channel "prompt". Padding is exact as long as seq is at
// most the sliding window (a longer padded row would overwrite the local
// layers' ring); the caller pads only to the longest prompt and checks that.
Status add_generate_batch(Module& module, const Gemma3Config& config, const GenerateConfig& generate);

}  // namespace graphc
