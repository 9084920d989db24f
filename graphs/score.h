// Scoring text as IR, for perplexity: adds to a Gemma-3 module
//
//   score(tokens: i32[seq], targets: i32[seq], weights: f32[seq]) -> f32[]
//
// = sum over positions p of weights[p] * -log softmax(prefill(tokens)[p])[targets[p]],
// the negative log-likelihood (in nats) of the targets, each predicted from
// the tokens up to its position. The host passes targets = tokens shifted by
// one and weight 0 where there is no next token.
#pragma once

#include "graphs/gemma3_config.h"
#include "ir/module.h"
#include "ir/status.h"

namespace graphc {

Status add_score(Module& module, const Gemma3Config& config);

}  // namespace graphc
