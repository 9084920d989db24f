#include "graphs/transformer_block.h"

#include <cmath>
#include <random>

#include "graphs/layers.h"
#include "ir/builder.h"

namespace graphc {

std::unique_ptr<Module> build_transformer_block(const TransformerBlockConfig& c) {
  auto m = std::make_unique<Module>("transformer_block");
  const int64_t inner = c.heads * c.head_dim;
  auto weight = [&](const char* name, Shape s) { m->add_global(GlobalKind::Weight, name, TensorType(DType::f32, s)); };
  weight("attn_norm", {c.d_model});
  weight("wq", {inner, c.d_model});
  weight("wk", {inner, c.d_model});
  weight("wv", {inner, c.d_model});
  weight("wo", {c.d_model, inner});
  weight("post_attn_norm", {c.d_model});
  weight("ffn_norm", {c.d_model});
  weight("w_gate", {c.ffn, c.d_model});
  weight("w_up", {c.ffn, c.d_model});
  weight("w_down", {c.d_model, c.ffn});
  weight("post_ffn_norm", {c.d_model});

  Builder b = Builder::function(*m, "forward");
  const Dim seq = sym("seq");
  Val x = b.param(TensorType(DType::f32, {seq, c.d_model}), "x");

  // Attention: project, split heads to [heads, seq, head_dim], mask, mix.
  Val h = rms_norm(b, x, b.weight("attn_norm"), c.rms_eps).named("h");
  auto heads = [&](Val proj) {
    return b.transpose(b.reshape(proj, {seq, c.heads, c.head_dim}), {1, 0, 2});
  };
  Val q = heads(b.matmul(h, b.weight("wq"), false, true)).named("q");
  Val k = heads(b.matmul(h, b.weight("wk"), false, true)).named("k");
  Val v = heads(b.matmul(h, b.weight("wv"), false, true)).named("v");
  Val dots = b.matmul(q, k, false, true);
  Val scale = b.scalar(1.0 / std::sqrt(double(c.head_dim)));
  Val scores = dots * scale;
  Val rows = b.iota({seq, seq}, 0);
  Val cols = b.iota({seq, seq}, 1);
  Val causal = b.compare(cols, "le", rows).named("causal");
  Val masked = b.select(causal, scores, b.scalar(-1e30));
  Val probs = b.softmax(masked, -1).named("probs");
  Val mixed = b.reshape(b.transpose(b.matmul(probs, v), {1, 0, 2}), {seq, inner});
  Val attn = b.matmul(mixed, b.weight("wo"), false, true);
  Val x1 = (x + rms_norm(b, attn, b.weight("post_attn_norm"), c.rms_eps)).named("x1");

  // GeGLU MLP.
  Val h2 = rms_norm(b, x1, b.weight("ffn_norm"), c.rms_eps);
  Val gate = gelu_tanh(b, b.matmul(h2, b.weight("w_gate"), false, true));
  Val up = b.matmul(h2, b.weight("w_up"), false, true);
  Val product = gate * up;
  Val down = b.matmul(product, b.weight("w_down"), false, true);
  Val out = (x1 + rms_norm(b, down, b.weight("post_ffn_norm"), c.rms_eps)).named("out");
  b.ret({out});
  return m;
}

std::vector<std::pair<std::string, HostTensor>> demo_weights(const Module& m, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::pair<std::string, HostTensor>> out;
  for (const Global& g : m.globals()) {
    if (g.kind != GlobalKind::Weight) continue;
    HostTensor t(g.type.dtype, to_static(g.type.shape));
    const bool is_norm = g.name.find("norm") != std::string::npos;
    for (int64_t i = 0; i < t.numel(); ++i) t.set(i, normal(rng) * (is_norm ? 0.05f : 0.2f));
    out.emplace_back(g.name, std::move(t));
  }
  return out;
}

}  // namespace graphc
