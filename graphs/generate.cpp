#include "graphs/generate.h"

#include <fmt/format.h>

#include "ir/builder.h"

namespace graphc {

namespace {

// f32[V], 1 at every token of prompt[0:length) (for the repetition penalty).
Val seen_tokens(Builder& b, Val prompt, Val length_i32, int64_t V) {
  const Val none = b.constant(0.0, TensorType(DType::f32, {V}));
  const Val one = b.constant(1.0, TensorType(DType::f32, {1}));
  const Val trips = b.cast(length_i32, DType::i64);
  return b.loop(trips, {none}, [&](Builder& body, Val i, const std::vector<Val>& carried) -> std::vector<Val> {
    const Val at = body.dynamic_slice(prompt, {i}, {1});
    const Val id = body.reshape(at, {});
    return {body.dynamic_update_slice(carried[0], one, {id})};
  })[0];
}

// The token loop: from the logits after the prompt, at most N steps of
// write, emit, stop or decode and choose. Returns {tokens i32[N], count i32[]}.
//
// The loop carries the chosen token, not the logits it came from: a step
// samples the next token right after its decode_step, inside the branch that
// runs it. So the loop's carried values and the branch's results are
// scalars, where carrying the [V] logits (1 MiB for Gemma-3) copied them
// several times per token. The seen-token mask is carried only when the
// repetition penalty updates it.
std::pair<Val, Val> generation_loop(Builder& b, Val first_logits, Val first_pos, Val seed, Val seen,
                                    const GenerateConfig& g) {
  const int64_t N = g.max_new_tokens;
  const bool track_seen = g.sampling.repetition_penalty != 1.0;
  const Val no_tokens = b.constant(0.0, TensorType(DType::i32, {N}));
  const Val zero = b.scalar(0, DType::i32);
  const Val trips = b.scalar(double(N), DType::i64);
  auto [first_token, first_rng] = sample_token(b, first_logits, seen, seed, g.sampling);
  std::vector<Val> init = {first_token, first_pos, no_tokens, zero, first_rng};
  if (track_seen) init.push_back(seen);
  std::vector<Val> out = b.loop(
      trips, init,
      [&](Builder& body, Val i, const std::vector<Val>& c) -> std::vector<Val> {
        const Val token = c[0], pos = c[1], tokens = c[2], count = c[3], rng = c[4];
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
        Val new_seen = seen;
        if (track_seen) {
          const Val one = body.constant(1.0, TensorType(DType::f32, {1}));
          new_seen = body.dynamic_update_slice(c[5], one, {token});
        }
        // The next token only when the loop goes on.
        const std::vector<Val> next = body.if_(
            stop, [&](Builder&) -> std::vector<Val> { return {token, rng}; },
            [&](Builder& go) -> std::vector<Val> {
              const Val logits = go.call("decode_step", {token, pos})[0];
              auto [next_token, next_rng] = sample_token(go, logits, new_seen, rng, g.sampling);
              return {next_token, next_rng};
            });
        const Val next_pos = body.add(pos, body.scalar(1, DType::i32));
        std::vector<Val> yields = {stop, next[0], next_pos, written, new_count, next[1]};
        if (track_seen) yields.push_back(new_seen);
        return yields;
      },
      /*has_exit=*/true);
  return {out[2], out[3]};
}

Status check_generate(const Module& module, const Gemma3Config& config, const GenerateConfig& g) {
  if (!module.function("prefill_row") || !module.function("decode_step"))
    return Error{"generate: the module has no prefill_row/decode_step (build it with build_gemma3)"};
  if (g.max_new_tokens < 1 || g.max_new_tokens > config.max_context)
    return Error{fmt::format("generate: max_new_tokens must be in [1, {}] (the model's max_context), got {}",
                             config.max_context, g.max_new_tokens)};
  if (Status s = validate(g.sampling, config.vocab); !s.ok()) return Error{"generate: " + s.error().message};
  return {};
}

}  // namespace

Status add_generate(Module& module, const Gemma3Config& config, const GenerateConfig& g) {
  if (Status s = check_generate(module, config, g); !s.ok()) return s;
  const int64_t V = config.vocab;
  Builder b = Builder::function(module, "generate");
  const Val prompt = b.param(TensorType(DType::i32, {Dim::sym("seq")}), "prompt");
  const Val seed = b.param(TensorType(DType::i64, {}), "seed");

  // The prompt's length as a value: the last index of an iota over it.
  const Val positions = b.iota({Dim::sym("seq")}, 0, DType::i32);
  const Val last = b.reduce(positions, "max", {0});
  const Val first_logits = b.call("prefill_row", {prompt, last})[0];
  const Val first_pos = b.add(last, b.scalar(1, DType::i32));
  const Val seen = g.sampling.repetition_penalty != 1.0 ? seen_tokens(b, prompt, first_pos, V)
                                                        : b.constant(0.0, TensorType(DType::f32, {V}));
  auto [tokens, count] = generation_loop(b, first_logits, first_pos, seed, seen, g);
  b.ret({tokens.named("tokens"), count.named("count")});
  return {};
}

Status add_generate_batch(Module& module, const Gemma3Config& config, const GenerateConfig& g) {
  if (Status s = check_generate(module, config, g); !s.ok()) return s;
  const int64_t V = config.vocab;
  const int64_t N = g.max_new_tokens;
  const Dim batch = Dim::sym("batch"), seq = Dim::sym("seq");
  Builder b = Builder::function(module, "generate_batch");
  const Val prompts = b.param(TensorType(DType::i32, {batch, seq}), "prompts");
  const Val lengths = b.param(TensorType(DType::i32, {batch}), "lengths");
  const Val seed = b.param(TensorType(DType::i64, {}), "seed");
  // The batch size as a value, as generate finds the prompt's length.
  const Val rows = b.iota({batch}, 0, DType::i64);
  const Val last_row = b.reduce(rows, "max", {0});
  const Val count_rows = b.add(last_row, b.scalar(1, DType::i64));
  const Val zero = b.scalar(0, DType::i32);
  const Val no_tokens = b.broadcast(zero, {batch, N});
  const Val no_counts = b.broadcast(zero, {batch});
  std::vector<Val> out = b.loop(
      count_rows, {no_tokens, no_counts},
      [&](Builder& body, Val r, const std::vector<Val>& c) -> std::vector<Val> {
        body.op1("emit", {r}, {{"channel", "prompt"}});
        const Val prompt = body.gather(prompts, r, 0);
        const Val length = body.gather(lengths, r, 0);
        // Prefill on the padded row: causal attention keeps the positions
        // before `length` exact, and decoding from `length` overwrites the
        // cache rows the padding filled (see the header for the limit).
        const Val last = body.sub(length, body.scalar(1, DType::i32));
        const Val first_logits = body.call("prefill_row", {prompt, last})[0];
        const Val seen = g.sampling.repetition_penalty != 1.0 ? seen_tokens(body, prompt, length, V)
                                                              : body.constant(0.0, TensorType(DType::f32, {V}));
        const Val row_seed = body.add(seed, r);
        auto [tokens, count] = generation_loop(body, first_logits, length, row_seed, seen, g);
        const Val tokens_row = body.reshape(tokens, {1, N});
        const Val all_tokens = body.dynamic_update_slice(c[0], tokens_row, {r, zero});
        const Val count_1 = body.reshape(count, {1});
        const Val all_counts = body.dynamic_update_slice(c[1], count_1, {r});
        return {all_tokens, all_counts};
      });
  b.ret({out[0].named("tokens"), out[1].named("counts")});
  return {};
}

}  // namespace graphc
