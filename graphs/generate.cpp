#include "graphs/generate.h"

#include <fmt/format.h>

#include "ir/builder.h"

namespace graphc {

Status add_generate(Module& module, const Gemma3Config& config, const GenerateConfig& g) {
  if (!module.function("prefill") || !module.function("decode_step"))
    return Error{"generate: the module has no prefill/decode_step (build it with build_gemma3)"};
  if (g.max_new_tokens < 1 || g.max_new_tokens > config.max_context)
    return Error{fmt::format("generate: max_new_tokens must be in [1, {}] (the model's max_context), got {}",
                             config.max_context, g.max_new_tokens)};
  if (Status s = validate(g.sampling, config.vocab); !s.ok()) return Error{"generate: " + s.error().message};
  const int64_t V = config.vocab;
  const int64_t N = g.max_new_tokens;
  const bool track_seen = g.sampling.repetition_penalty != 1.0;

  Builder b = Builder::function(module, "generate");
  const Val prompt = b.param(TensorType(DType::i32, {Dim::sym("seq")}), "prompt");
  const Val seed = b.param(TensorType(DType::i64, {}), "seed");

  const Val all_logits = b.call("prefill", {prompt})[0];
  // The prompt's length as a value: the last index of an iota over it.
  const Val positions = b.iota({Dim::sym("seq")}, 0, DType::i32);
  const Val last = b.reduce(positions, "max", {0});
  const Val zero = b.scalar(0, DType::i32);
  const Val last_row = b.dynamic_slice(all_logits, {last, zero}, {1, V});
  const Val first_logits = b.reshape(last_row, {V});
  const Val first_pos = b.add(last, b.scalar(1, DType::i32));

  // Tokens already seen (the prompt's included), for the repetition penalty.
  Val seen = b.constant(0.0, TensorType(DType::f32, {V}));
  if (track_seen) {
    const Val prompt_len = b.cast(first_pos, DType::i64);
    const Val one = b.constant(1.0, TensorType(DType::f32, {1}));
    seen = b.loop(prompt_len, {seen}, [&](Builder& body, Val i, const std::vector<Val>& carried) -> std::vector<Val> {
      const Val at = body.dynamic_slice(prompt, {i}, {1});
      const Val id = body.reshape(at, {});
      return {body.dynamic_update_slice(carried[0], one, {id})};
    })[0];
  }

  const Val no_tokens = b.constant(0.0, TensorType(DType::i32, {N}));
  const Val trips = b.scalar(double(N), DType::i64);
  std::vector<Val> init = {first_logits, first_pos, no_tokens, zero, seed, seen};
  std::vector<Val> out = b.loop(
      trips, init,
      [&](Builder& body, Val i, const std::vector<Val>& c) -> std::vector<Val> {
        const Val logits = c[0], pos = c[1], tokens = c[2], count = c[3], rng = c[4], seen_now = c[5];
        auto [token, next_rng] = sample_token(body, logits, seen_now, rng, g.sampling);
        const Val token_row = body.reshape(token, {1});
        const Val written = body.dynamic_update_slice(tokens, token_row, {i});
        const Val host_stop = body.op1("emit", {token}, {{"channel", "token"}});
        // a or b, for bools: select(a, a, b).
        auto either = [&](Val a, Val c) { return body.select(a, a, c); };
        const Val no = body.constant(0.0, TensorType(DType::boolean, {}));
        Val is_stop_token = no;
        for (int32_t stop : g.stop_tokens) {
          const Val is_this = body.compare(token, "eq", body.scalar(stop, DType::i32));
          is_stop_token = either(is_stop_token, is_this);
        }
        const Val not_stop_token = body.compare(is_stop_token, "eq", no);
        const Val produced = body.cast(not_stop_token, DType::i32);
        const Val new_count = body.add(count, produced);
        const Val last_step = body.compare(i, "eq", body.scalar(double(N - 1), DType::i64));
        const Val stop_or_host = either(is_stop_token, host_stop);
        const Val stop = either(stop_or_host, last_step);
        Val new_seen = seen_now;
        if (track_seen) {
          const Val one = body.constant(1.0, TensorType(DType::f32, {1}));
          new_seen = body.dynamic_update_slice(seen_now, one, {token});
        }
        // The next logits only when the loop goes on.
        const Val next_logits = body.if_(
            stop, [&](Builder&) -> std::vector<Val> { return {logits}; },
            [&](Builder& go) -> std::vector<Val> { return {go.call("decode_step", {token, pos})[0]}; })[0];
        const Val next_pos = body.add(pos, body.scalar(1, DType::i32));
        return {stop, next_logits, next_pos, written, new_count, next_rng, new_seen};
      },
      /*has_exit=*/true);
  b.ret({out[2].named("tokens"), out[3].named("count")});
  return {};
}

}  // namespace graphc
