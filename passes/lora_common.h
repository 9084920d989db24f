// What add-lora and fold-lora share: adapter names, target globs, recognising
// a projection matmul(x, weight @W, transpose_b = true), and building new ops
// at a chosen place in a block.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "ir/builder.h"
#include "ir/module.h"

namespace graphc::lora {

// A LoRA adapter on weight @W is the pair of state globals @W.lora_a
// [rank, in] and @W.lora_b [out, rank] (PEFT's lora_A / lora_B layout); a
// named adapter N (several may share a weight) is @W.lora_a.N / @W.lora_b.N.
inline std::string a_name(const std::string& w, const std::string& adapter = {}) {
  return w + ".lora_a" + (adapter.empty() ? "" : "." + adapter);
}
inline std::string b_name(const std::string& w, const std::string& adapter = {}) {
  return w + ".lora_b" + (adapter.empty() ? "" : "." + adapter);
}

// Splits "g1|g2" into globs; each matches a whole name, `*` any run, `?` one.
std::vector<std::string> split_globs(const std::string& text);
bool matches_any(const std::vector<std::string>& globs, const std::string& name);

// The weight global read by matmul(x, weight @W, transpose_b = true) with a
// 2-D W and no transpose_a: W's name, or "" when `op` is not such a matmul.
std::string projection_weight(const Op& op);

// The global a `weight` or `state_get` op of that kind reads, or "".
std::string global_read(const Value* v, const std::string& kind);

// Runs `build` with a builder on `block`, then moves the ops it created so
// they sit just before `at` (the builder itself always appends).
void build_before(Module& m, Block* block, Op* at, const std::function<void(Builder&)>& build);

}  // namespace graphc::lora
