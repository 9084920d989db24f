#include "graphs/gemma3.h"

#include <fmt/format.h>

#include <cmath>

#include "graphs/layers.h"
#include "ir/builder.h"

namespace graphc {

std::string gemma3_layer_weight(int64_t layer, const char* what) { return fmt::format("layer.{}.{}", layer, what); }
std::string gemma3_k_cache(int64_t layer) { return fmt::format("layer.{}.k_cache", layer); }
std::string gemma3_v_cache(int64_t layer) { return fmt::format("layer.{}.v_cache", layer); }

namespace {

constexpr const char* kNorms[] = {"attn_norm", "post_attn_norm", "pre_ffn_norm", "post_ffn_norm"};

class Gemma3Builder {
 public:
  Gemma3Builder(const Gemma3Config& c, Module& m) : c_(c), m_(m) {}

  void declare_globals() {
    const int64_t D = c_.hidden, F = c_.intermediate, hd = c_.head_dim;
    const int64_t q_width = c_.heads * hd, kv_width = c_.kv_heads * hd;
    weight("embed", {c_.vocab, D});
    weight("final_norm", {D});
    for (int64_t i = 0; i < c_.layers; ++i) {
      for (const char* n : kNorms) weight(gemma3_layer_weight(i, n), {D});
      weight(gemma3_layer_weight(i, "q_proj"), {q_width, D});
      weight(gemma3_layer_weight(i, "k_proj"), {kv_width, D});
      weight(gemma3_layer_weight(i, "v_proj"), {kv_width, D});
      weight(gemma3_layer_weight(i, "o_proj"), {D, q_width});
      weight(gemma3_layer_weight(i, "q_norm"), {hd});
      weight(gemma3_layer_weight(i, "k_norm"), {hd});
      weight(gemma3_layer_weight(i, "gate_proj"), {F, D});
      weight(gemma3_layer_weight(i, "up_proj"), {F, D});
      weight(gemma3_layer_weight(i, "down_proj"), {D, F});
      const int64_t len = cache_length(i);
      m_.add_global(GlobalKind::State, gemma3_k_cache(i), TensorType(DType::f32, {len, kv_width}));
      m_.add_global(GlobalKind::State, gemma3_v_cache(i), TensorType(DType::f32, {len, kv_width}));
    }
  }

  // The layers over a whole sequence from position 0: the residual stream
  // after the last layer, [seq, hidden]. Prefill also writes the KV caches.
  Val trunk(Builder& b, Val tokens, bool write_caches) {
    const Dim seq = tokens.shape()[0];
    Val positions = b.iota({seq}, 0, DType::i32).named("positions");
    // Causal and sliding-window masks over [query, key] positions.
    Val q_pos = b.iota({seq, seq}, 0, DType::i32);
    Val k_pos = b.iota({seq, seq}, 1, DType::i32);
    Val causal = b.compare(k_pos, "le", q_pos).named("causal_mask");
    Val distance = q_pos - k_pos;
    Val window = b.scalar(double(c_.sliding_window), DType::i32);
    Val in_window = b.compare(distance, "lt", window);
    Val sliding = logical_and(b, causal, in_window).named("sliding_mask");
    // The last position, as a value: where the prefill leaves the caches.
    Val last = write_caches ? b.reduce(positions, "max", {0}).named("last_pos") : Val{};

    Val x = embed(b, tokens);
    Tables tables = rope(b, positions);
    for (int64_t i = 0; i < c_.layers; ++i) {
      const bool global = c_.is_global_layer(i);
      Qkv qkv = project_qkv(b, x, i, global ? tables.global : tables.local);
      // Attention over the prompt itself; the caches are only written.
      Val attn = attention(b, qkv.q, qkv.k, qkv.v, global ? causal : sliding);
      if (write_caches) write_prefill_cache(b, i, qkv, last);
      x = finish_layer(b, x, attn, i);
    }
    return x;
  }

  // The input of the LM head: the final norm over the trunk's output.
  Val final_hidden(Builder& b, Val tokens) {
    return rms_norm(b, trunk(b, tokens, /*write_caches=*/false), b.weight("final_norm"), c_.rms_eps);
  }

  // prefill(tokens) -> logits of every position; with `one_row`,
  // prefill_row(tokens, row) -> the logits of position `row` only (what
  // generation needs: the LM head over one row instead of seq).
  void build_prefill(bool one_row) {
    Builder b = Builder::function(m_, one_row ? "prefill_row" : "prefill");
    const Dim seq = sym("seq");
    Val tokens = b.param(TensorType(DType::i32, {seq}), "tokens");
    Val row = one_row ? b.param(TensorType(DType::i32, {}), "row") : Val{};
    Val x = trunk(b, tokens, /*write_caches=*/true);
    if (!one_row) {
      b.ret({lm_head(b, x).named("logits")});
      return;
    }
    Val zero = b.scalar(0, DType::i32);
    Val x_row = b.dynamic_slice(x, {row, zero}, {1, c_.hidden});
    b.ret({b.reshape(lm_head(b, x_row), {c_.vocab}).named("logits")});
  }

  void build_decode_step() {
    Builder b = Builder::function(m_, "decode_step");
    Val token = b.param(TensorType(DType::i32, {}), "token");
    Val pos = b.param(TensorType(DType::i32, {}), "pos");
    Val positions = b.reshape(pos, {1});
    Val x = embed(b, b.reshape(token, {1}));
    Tables tables = rope(b, positions);
    for (int64_t i = 0; i < c_.layers; ++i) {
      const bool global = c_.is_global_layer(i);
      Qkv qkv = project_qkv(b, x, i, global ? tables.global : tables.local);
      const int64_t len = cache_length(i);
      // A global layer writes row pos; a local layer writes slot pos mod len.
      Val slot = global ? pos : modulo(b, pos, len);
      Val zero = b.scalar(0, DType::i32);
      Val k_cache = b.dynamic_update_slice(b.state_get(gemma3_k_cache(i)), qkv.k_rows, {slot, zero});
      Val v_cache = b.dynamic_update_slice(b.state_get(gemma3_v_cache(i)), qkv.v_rows, {slot, zero});
      b.state_set(gemma3_k_cache(i), k_cache);
      b.state_set(gemma3_v_cache(i), v_cache);
      // Which slots hold a position the query may see: slot s holds
      // kpos = pos - ((pos - s) mod len) on a ring, s on a global cache.
      Val s = b.iota({len}, 0, DType::i32);
      Val valid = global ? b.compare(s, "le", pos) : b.compare(ring_position(b, pos, s, len), "ge", zero);
      Val mask = b.reshape(valid, {1, len});
      Val keys = heads_first(b, k_cache, len);
      Val values = heads_first(b, v_cache, len);
      Val attn = attention(b, qkv.q, keys, values, mask);
      x = finish_layer(b, x, attn, i);
    }
    b.ret({b.reshape(lm_head(b, x), {c_.vocab}).named("logits")});
  }

 private:
  struct Tables {
    std::pair<Val, Val> local, global;
  };
  struct Qkv {
    Val q, k, v;            // [heads, n, hd] with heads first, ready for attention
    Val k_rows, v_rows;     // [n, kv_heads * hd], as stored in the caches
  };

  void weight(const std::string& name, Shape s) {
    m_.add_global(GlobalKind::Weight, name, TensorType(DType::f32, std::move(s)));
  }
  Val w(Builder& b, int64_t layer, const char* what) { return b.weight(gemma3_layer_weight(layer, what)); }
  int64_t cache_length(int64_t layer) const {
    return c_.is_global_layer(layer) ? c_.max_context : c_.local_cache_length();
  }

  // The position held by ring slot s of length len when `latest` is the
  // newest position written: latest - ((latest - s) mod len), negative when
  // the slot is still empty.
  Val ring_position(Builder& b, Val latest, Val s, int64_t len) {
    Val behind = latest - s;
    Val len_v = b.scalar(double(len), DType::i32);
    Val shifted = behind + len_v;  // >= 1, so modulo sees no negatives
    return latest - modulo(b, shifted, len);
  }

  // x mod n for x >= 0 (integer division truncates, which is floor here).
  Val modulo(Builder& b, Val x, int64_t n) {
    Val nv = b.scalar(double(n), DType::i32);
    return x - nv * (x / nv);
  }

  Val embed(Builder& b, Val tokens) {
    Val rows = b.gather(b.weight("embed"), tokens, 0);
    Val scale = b.scalar(std::sqrt(double(c_.hidden)));
    return (rows * scale).named("x");
  }

  Tables rope(Builder& b, Val positions) {
    return {rope_tables(b, positions, c_.head_dim, c_.rope_local_base, 1.0),
            rope_tables(b, positions, c_.head_dim, c_.rope_global_base, c_.rope_global_scale)};
  }

  // [n, heads * hd] -> [heads, n, hd]
  Val heads_first(Builder& b, Val rows, Dim n) {
    const int64_t heads = rows.shape()[1].value / c_.head_dim;
    return b.transpose(b.reshape(rows, {n, heads, c_.head_dim}), {1, 0, 2});
  }

  Qkv project_qkv(Builder& b, Val x, int64_t i, const std::pair<Val, Val>& table) {
    const Dim n = x.shape()[0];
    Val h = rms_norm(b, x, w(b, i, "attn_norm"), c_.rms_eps);
    auto project = [&](const char* proj, int64_t heads) {
      return b.reshape(b.matmul(h, w(b, i, proj), false, true), {n, heads, c_.head_dim});
    };
    // The three projections first, then what depends on them: the CPU
    // backend runs consecutive independent kernels as one parallel job, so
    // q, k and v become one job rather than three interleaved with the norms.
    Val q_rows = project("q_proj", c_.heads);
    Val k_rows = project("k_proj", c_.kv_heads);
    Val v = project("v_proj", c_.kv_heads);
    Val q = rms_norm(b, q_rows, w(b, i, "q_norm"), c_.rms_eps);
    Val k = rms_norm(b, k_rows, w(b, i, "k_norm"), c_.rms_eps);
    q = apply_rope(b, q, table.first, table.second);
    k = apply_rope(b, k, table.first, table.second);
    const int64_t kv_width = c_.kv_heads * c_.head_dim;
    Qkv out;
    out.q = b.transpose(q, {1, 0, 2});
    out.k = b.transpose(k, {1, 0, 2});
    out.v = b.transpose(v, {1, 0, 2});
    out.k_rows = b.reshape(k, {n, kv_width});
    out.v_rows = b.reshape(v, {n, kv_width});
    return out;
  }

  // softmax(q k^T * scale + mask) v with GQA: query head j uses KV head
  // j / (heads / kv_heads). q [H, n, hd], k and v [K, t, hd], mask [n, t].
  // Returns [n, H * hd].
  Val attention(Builder& b, Val q, Val k, Val v, Val mask) {
    const int64_t H = c_.heads, K = c_.kv_heads, G = H / K, hd = c_.head_dim;
    const Dim n = q.shape()[1], t = k.shape()[1];
    Val qg = b.reshape(q, {K, G, n, hd});
    Val kg = b.reshape(k, {K, 1, t, hd});
    Val vg = b.reshape(v, {K, 1, t, hd});
    Val dots = b.matmul(qg, kg, false, true);
    Val scale = b.scalar(c_.attention_scale());
    Val scores = dots * scale;
    Val masked_value = b.scalar(-1e30);
    Val masked = b.select(mask, scores, masked_value);
    Val probs = b.softmax(masked, -1);
    Val mixed = b.reshape(b.matmul(probs, vg), {H, n, hd});
    return b.reshape(b.transpose(mixed, {1, 0, 2}), {n, H * hd});
  }

  // The prefill leaves positions 0..last in the caches. A global cache gets
  // rows 0..last. A ring of length len gets, in slot s, the latest position
  // p <= last with p mod len == s: p = last - ((last - s) mod len).
  void write_prefill_cache(Builder& b, int64_t i, const Qkv& qkv, Val last) {
    Val zero = b.scalar(0, DType::i32);
    if (c_.is_global_layer(i)) {
      b.state_set(gemma3_k_cache(i), b.dynamic_update_slice(b.state_get(gemma3_k_cache(i)), qkv.k_rows, {zero, zero}));
      b.state_set(gemma3_v_cache(i), b.dynamic_update_slice(b.state_get(gemma3_v_cache(i)), qkv.v_rows, {zero, zero}));
      return;
    }
    const int64_t len = cache_length(i);
    Val s = b.iota({len}, 0, DType::i32);
    Val p = ring_position(b, last, s, len);
    Val valid = b.reshape(b.compare(p, "ge", zero), {len, 1});
    Val index = b.max(p, zero);
    Val zeros = b.scalar(0.0);
    b.state_set(gemma3_k_cache(i), b.select(valid, b.gather(qkv.k_rows, index, 0), zeros));
    b.state_set(gemma3_v_cache(i), b.select(valid, b.gather(qkv.v_rows, index, 0), zeros));
  }

  // Output projection, post-attention norm and residual; then the GeGLU MLP
  // with its pre and post norms and residual.
  Val finish_layer(Builder& b, Val x, Val attn, int64_t i) {
    Val o = b.matmul(attn, w(b, i, "o_proj"), false, true);
    x = x + rms_norm(b, o, w(b, i, "post_attn_norm"), c_.rms_eps);
    Val h = rms_norm(b, x, w(b, i, "pre_ffn_norm"), c_.rms_eps);
    Val gate = gelu_tanh(b, b.matmul(h, w(b, i, "gate_proj"), false, true));
    Val up = b.matmul(h, w(b, i, "up_proj"), false, true);
    Val product = gate * up;
    Val down = b.matmul(product, w(b, i, "down_proj"), false, true);
    return x + rms_norm(b, down, w(b, i, "post_ffn_norm"), c_.rms_eps);
  }

  // Final norm and the tied LM head (the embedding matrix, unscaled).
  Val lm_head(Builder& b, Val x) {
    Val y = rms_norm(b, x, b.weight("final_norm"), c_.rms_eps);
    return b.matmul(y, b.weight("embed"), false, true);
  }

  const Gemma3Config& c_;
  Module& m_;
};

}  // namespace

Val gemma3_final_hidden(Builder& b, const Gemma3Config& config, Val tokens) {
  Gemma3Builder g(config, b.module());
  return g.final_hidden(b, tokens);
}

std::unique_ptr<Module> build_gemma3(const Gemma3Config& config) {
  config.validate().throw_if_error();
  auto m = std::make_unique<Module>("gemma3");
  Gemma3Builder g(config, *m);
  g.declare_globals();
  g.build_prefill(/*one_row=*/false);
  g.build_prefill(/*one_row=*/true);
  g.build_decode_step();
  return m;
}

}  // namespace graphc
