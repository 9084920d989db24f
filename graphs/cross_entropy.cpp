#include "graphs/cross_entropy.h"

#include <fmt/format.h>

#include "ir/status.h"

namespace graphc {

int64_t cross_entropy_chunk(int64_t n, int64_t chunk) {
  for (int64_t c = std::min(n, std::max<int64_t>(chunk, 1)); c > 1; --c)
    if (n % c == 0) return c;
  return 1;
}

CrossEntropy chunked_cross_entropy(Builder& b, Val hidden, Val table, Val targets, Val weights, Val inv_count,
                                   int64_t chunk, bool grad_table) {
  const int64_t n = hidden.shape()[0].value, D = hidden.shape()[1].value, V = table.shape()[0].value;
  if (chunk <= 0 || n % chunk != 0)
    throw GraphcError(fmt::format("cross-entropy: chunk {} does not divide the {} rows", chunk, n));
  const DType t = hidden.type().dtype;
  const int64_t C = chunk;
  std::vector<Val> init = {b.scalar(0, t), b.constant(0.0, hidden.type())};
  if (grad_table) init.push_back(b.constant(0.0, table.type()));
  std::vector<Val> out = b.loop(
      b.scalar(double(n / C), DType::i64), init, [&](Builder& body, Val i, const std::vector<Val>& c) {
        Val start = i * body.scalar(double(C), DType::i64);
        Val zero = body.scalar(0, DType::i64);
        Val h = body.dynamic_slice(hidden, {start, zero}, {C, D});
        Val target = body.reshape(body.dynamic_slice(targets, {start}, {C}), {C, 1});
        Val weight = body.reshape(body.dynamic_slice(weights, {start}, {C}), {C, 1});
        // Log-sum-exp with the row maximum taken out, as softmax does.
        Val logits = body.matmul(h, table, false, true);  // [C, V]
        Val top = body.reduce(logits, "max", {1}, true);
        Val e = body.exp(logits - top);
        Val sum_e = body.sum(e, {1}, true);
        Val lse = body.log(sum_e) + top;
        Val is_target = body.compare(body.iota({C, V}, 1, DType::i32), "eq", target);
        Val picked = body.sum(body.select(is_target, logits, body.scalar(0, t)), {1}, true);
        Val scale = weight * inv_count;  // [C, 1]
        Val loss_sum = c[0] + body.sum((lse - picked) * scale, {0, 1});
        // d nll / d logits = softmax - onehot.
        Val p = e / sum_e;
        Val d_logits = body.select(is_target, p - body.scalar(1, t), p) * scale;
        Val d_h = body.matmul(d_logits, table);  // [C, D]
        std::vector<Val> next = {loss_sum, body.dynamic_update_slice(c[1], d_h, {start, zero})};
        if (grad_table) next.push_back(c[2] + body.matmul(d_logits, h, true, false));  // [V, D]
        return next;
      });
  return {out[0], out[1], grad_table ? out[2] : Val{}};
}

}  // namespace graphc
