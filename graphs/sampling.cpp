#include "graphs/sampling.h"

#include <fmt/format.h>

namespace graphc {

Status validate(const SamplingConfig& c, int64_t vocab) {
  if (c.strategy != "greedy" && c.strategy != "sample")
    return Error{fmt::format("sampling.strategy must be greedy or sample, got '{}'", c.strategy)};
  if (!(c.temperature > 0)) return Error{fmt::format("sampling.temperature must be > 0, got {}", c.temperature)};
  if (c.top_k < 0 || c.top_k > vocab)
    return Error{fmt::format("sampling.top_k must be in [0, {}], got {}", vocab, c.top_k)};
  if (!(c.top_p > 0 && c.top_p <= 1)) return Error{fmt::format("sampling.top_p must be in (0, 1], got {}", c.top_p)};
  if (!(c.repetition_penalty > 0))
    return Error{fmt::format("sampling.repetition_penalty must be > 0, got {}", c.repetition_penalty)};
  return {};
}

std::pair<Val, Val> sample_token(Builder& b, Val logits, Val seen, Val seed, const SamplingConfig& c) {
  const int64_t vocab = logits.shape().at(0).value;
  Val scores = logits;
  if (c.repetition_penalty != 1.0) {
    const Val penalty = b.scalar(c.repetition_penalty);
    const Val positive = b.compare(scores, "gt", b.scalar(0.0));
    const Val divided = b.div(scores, penalty);
    const Val multiplied = b.mul(scores, penalty);
    const Val penalised = b.select(positive, divided, multiplied);
    const Val was_seen = b.compare(seen, "gt", b.scalar(0.0));
    scores = b.select(was_seen, penalised, scores);
  }
  if (c.strategy == "greedy") return {b.argmax(scores, 0), seed};

  if (c.temperature != 1.0) scores = b.div(scores, b.scalar(c.temperature));
  // Candidates in descending order (top_p needs the order; top_k the cut).
  const int64_t k = c.top_k > 0 ? c.top_k : vocab;
  Val values = scores;
  Val indices = b.iota({vocab}, 0, DType::i32);
  if (c.top_k > 0 || c.top_p < 1.0) std::tie(values, indices) = b.topk(scores, k);
  Val probs = b.softmax(values, 0);
  if (c.top_p < 1.0) {
    // Keep a candidate while the mass before it is below top_p (the first
    // one always stays).
    const Val cumulative = b.cumsum(probs, 0);
    const Val before = b.sub(cumulative, probs);
    const Val keep = b.compare(before, "lt", b.scalar(c.top_p));
    probs = b.select(keep, probs, b.scalar(0.0));
  }
  const Val mass = b.sum(probs, {0});
  auto [u, next_seed] = b.random_uniform(seed, {});
  const Val threshold = b.mul(u, mass);
  const Val cumulative = b.cumsum(probs, 0);
  const Val below = b.compare(cumulative, "le", threshold);
  const Val below_i32 = b.cast(below, DType::i32);
  const Val below_count = b.sum(below_i32, {0});
  const Val last = b.scalar(double(k - 1), DType::i32);
  const Val position = b.min(below_count, last);
  const Val token = b.gather(indices, position, 0);
  return {token, next_seed};
}

}  // namespace graphc
