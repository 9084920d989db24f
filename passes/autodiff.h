// Reverse-mode automatic differentiation over the IR.
//
// append_gradients() differentiates what a function has computed so far: it
// walks the ops of the builder's block backwards from `loss`, applies each
// op's gradient rule (passes/gradient_rules.h) and appends the backward ops
// to the same block, so forward, backward and whatever follows (an optimizer
// update) are one function that the passes fuse and the planner places
// together: a forward value lives exactly until the last backward op that
// reads it.
//
//   Val loss = ...forward...;
//   auto grads = append_gradients(b, loss, {w1, w2});   // dloss/dw1, dloss/dw2
//
// The values to differentiate with respect to are any floating-point values
// of the block: parameters, state_get results (trainable state), weight
// reads. Only ops on a path from them to the loss are differentiated; an op
// there without a rule, or a loop/if/call on that path, is an error naming
// the op and its line.
#pragma once

#include <vector>

#include "ir/builder.h"
#include "ir/status.h"

namespace graphc {

// `seed` is the gradient of `loss` (default: 1, for a scalar loss). Returns
// one gradient per `wrt` value, of its type: zeros when the loss does not
// depend on it.
Expected<std::vector<Val>> append_gradients(Builder& b, Val loss, const std::vector<Val>& wrt, Val seed = {});

}  // namespace graphc
