// Gemma-3 checkpoints bound to the graph's weights. Tiny models with random
// weights are written as GGUF (llama.cpp names, +1 on norms, F32 and Q8_0) and
// as safetensors (Hugging Face names, BF16 and F32, with and without the
// multimodal prefixes and extra embedding rows); prefill through the binding
// must give the same logits as binding the original weights directly. Then
// every kind of bad file gives one line naming the file and the tensor, and
// the real Gemma-3 270M Q4_K_M GGUF (when models/ has it) gives the preset's
// config, sane weights of every quantized type, and the fixture's token ids.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/test_models.h"
#include "tests/test_temp_dir.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/reference/interpreter.h"
#include "graphs/gemma3.h"
#include "runtime/dequantize.h"
#include "runtime/gemma3_checkpoint.h"
#include "runtime/gguf_writer.h"
#include "runtime/safetensors_writer.h"

namespace graphc {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

static_assert(std::is_same_v<Gemma3WeightLoader, ReferenceInterpreter::WeightLoader>,
              "gemma3_weight_loader gives exactly the interpreter's loader type");

// ---------------------------------------------------------------- helpers

fs::path temp_dir() { return test_support::scratch_dir("graphc_gemma3_checkpoint_"); }
std::string temp_path(const std::string& name) { return (temp_dir() / name).string(); }
[[maybe_unused]] const bool kRemoveTempDir = test_support::remove_scratch_dir_at_exit("graphc_gemma3_checkpoint_");

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// Error messages are single lines that name the file and the tensor.
void expect_one_line(const std::string& message, const std::string& path, const std::string& tensor) {
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_THAT(message, HasSubstr(path));
  EXPECT_THAT(message, HasSubstr(tensor));
}

// Two layers (layer 0 slides over a window of 4, layer 1 is global), two
// query heads sharing one KV head. Every matrix row is 32 or 64 elements, so
// every matrix can be stored as Q8_0.
Gemma3Config tiny_config() {
  Gemma3Config c;
  c.name = "tiny";
  c.vocab = 40;
  c.hidden = 32;
  c.intermediate = 64;
  c.layers = 2;
  c.heads = 2;
  c.kv_heads = 1;
  c.head_dim = 16;
  c.query_pre_attn_scalar = 16;
  c.sliding_window = 4;
  c.global_every = 2;
  c.rope_global_base = 20000.0;
  c.max_position = 64;
  c.max_context = 16;
  return c;
}

// splitmix64: portable, unlike the standard distributions.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  int64_t uniform(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(next() % uint64_t(hi - lo + 1)); }

 private:
  uint64_t s_;
};

// Graph weights by graph name, norms zero-centred as the graph wants them.
using Weights = std::map<std::string, std::vector<float>>;

std::vector<std::string> weight_names(const Gemma3Config& c) {
  std::vector<std::string> out;
  std::unique_ptr<Module> m = build_gemma3(c);
  for (const Global& g : m->globals())
    if (g.kind == GlobalKind::Weight) out.push_back(g.name);
  return out;
}

// Values every tested encoding stores losslessly, so the comparisons below
// can be exact:
//  - matrices: each block of 32 consecutive elements is d * q with d a power
//    of two and integer q in [-127, 127], one of them +-127. Q8_0 then finds
//    d = max|x| / 127 exactly, and q = x / d exactly; and d * q has at most 7
//    significant bits, which bf16 (8 bits) and f32 hold.
//  - norms: k / 128 with |k| <= 32, so w, 1 + w and (1 + w) - 1 are exact.
std::vector<float> lossless_matrix(Rng& rng, int64_t n, int64_t extra_rows_of = 0) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t b = 0; b < n; b += 32) {
    const float d = std::ldexp(1.0f, -static_cast<int>(rng.uniform(7, 9)));
    for (int64_t j = 0; j < 32; ++j) v[b + j] = d * static_cast<float>(rng.uniform(-127, 127));
    v[b + rng.uniform(0, 31)] = d * (rng.uniform(0, 1) ? 127.0f : -127.0f);
  }
  return v;
}

Weights tiny_weights(const Gemma3Config& c, uint64_t seed) {
  Rng rng(seed);
  Weights w;
  for (const std::string& name : weight_names(c)) {
    const int64_t n = product(*gemma3_weight_shape(c, name));
    if (gemma3_is_norm_weight(name)) {
      std::vector<float> v(static_cast<size_t>(n));
      for (float& x : v) x = static_cast<float>(rng.uniform(-32, 32)) / 128.0f;
      w[name] = std::move(v);
    } else {
      w[name] = lossless_matrix(rng, n);
    }
  }
  return w;
}

// Rows appended to the embedding table, as multimodal checkpoints have.
// Large, so that logits would show it if they were not dropped.
std::vector<float> with_extra_rows(std::vector<float> embed, int64_t hidden, int64_t extra) {
  for (int64_t i = 0; i < extra * hidden; ++i) embed.push_back(i % 2 ? 3.0f : -3.0f);
  return embed;
}

// --------------------------------------------------------------- writers

// The tokenizer vocabulary of the tiny GGUF: Gemma's layout in miniature.
struct TinyVocab {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<int32_t> types;
  int32_t add(std::string p, float score, TokenType t) {
    pieces.push_back(std::move(p));
    scores.push_back(score);
    types.push_back(static_cast<int32_t>(t));
    return static_cast<int32_t>(pieces.size() - 1);
  }
  int32_t id(const std::string& p) const {
    for (size_t i = 0; i < pieces.size(); ++i)
      if (pieces[i] == p) return static_cast<int32_t>(i);
    return -1;
  }
};

TinyVocab tiny_vocab() {
  TinyVocab v;
  for (const char* p : {"<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"})
    v.add(p, -1000.0f, TokenType::control);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    v.add(name, 0.0f, TokenType::byte);
  }
  float score = -1.0f;
  for (const char* m : {"he", "ll", "llo", "hello", "▁w", "or", "▁wor", "ld", "▁world"})
    v.add(m, score--, TokenType::normal);
  for (const char* c : {"h", "e", "l", "o", "w", "r", "d", "▁"}) v.add(c, -100.0f, TokenType::normal);
  return v;
}

void put_metadata(GgufWriter& w, const Gemma3Config& c) {
  w.set_string("general.architecture", "gemma3");
  w.set_string("general.name", "tiny gemma3");
  w.set_u32("gemma3.context_length", static_cast<uint32_t>(c.max_position));
  w.set_u32("gemma3.embedding_length", static_cast<uint32_t>(c.hidden));
  w.set_u32("gemma3.block_count", static_cast<uint32_t>(c.layers));
  w.set_u32("gemma3.feed_forward_length", static_cast<uint32_t>(c.intermediate));
  w.set_u32("gemma3.attention.head_count", static_cast<uint32_t>(c.heads));
  w.set_u32("gemma3.attention.head_count_kv", static_cast<uint32_t>(c.kv_heads));
  w.set_u32("gemma3.attention.key_length", static_cast<uint32_t>(c.head_dim));
  w.set_u32("gemma3.attention.value_length", static_cast<uint32_t>(c.head_dim));
  w.set_f32("gemma3.attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_eps));
  w.set_f32("gemma3.rope.freq_base", static_cast<float>(c.rope_global_base));
  w.set_u32("gemma3.attention.sliding_window", static_cast<uint32_t>(c.sliding_window));
  const TinyVocab v = tiny_vocab();
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_string_array("tokenizer.ggml.tokens", v.pieces);
  w.set_f32_array("tokenizer.ggml.scores", v.scores);
  w.set_i32_array("tokenizer.ggml.token_type", v.types);
  w.set_u32("tokenizer.ggml.bos_token_id", 2);
  w.set_u32("tokenizer.ggml.eos_token_id", 1);
  w.set_u32("tokenizer.ggml.unknown_token_id", 3);
  w.set_u32("tokenizer.ggml.padding_token_id", 0);
}

struct GgufOptions {
  bool q8_0 = false;              // matrices and the embedding as Q8_0 (norms stay F32, as llama-quantize does)
  int64_t extra_embed_rows = 0;   // rows past the vocabulary
  std::string skip;               // a graph weight to leave out
  std::string halve_rows_of;      // a graph weight written with half its rows
};

// A GGUF as llama.cpp's converter writes it: GGUF names, 1 + w in every norm.
void write_gguf(const std::string& path, const Gemma3Config& c, const Weights& weights, const GgufOptions& o = {}) {
  GgufWriter w;
  put_metadata(w, c);
  for (const auto& [name, values] : weights) {
    if (name == o.skip) continue;
    std::vector<int64_t> shape = *gemma3_weight_shape(c, name);
    std::vector<float> v = values;
    const bool norm = gemma3_is_norm_weight(name);
    if (norm)
      for (float& x : v) x += 1.0f;  // what the converter does
    if (name == "embed") {
      v = with_extra_rows(std::move(v), c.hidden, o.extra_embed_rows);
      shape[0] += o.extra_embed_rows;
    }
    if (name == o.halve_rows_of) {
      shape[0] /= 2;
      v.resize(static_cast<size_t>(product(shape)));
    }
    const GgmlType type = o.q8_0 && !norm ? GgmlType::Q8_0 : GgmlType::F32;
    Status s = w.add_tensor(*gemma3_gguf_name(name), type, shape, v);
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  Status s = w.write(path);
  ASSERT_TRUE(s.ok()) << s.error().message;
}

struct SafetensorsOptions {
  std::string prefix = "model.";
  int64_t extra_embed_rows = 0;
  bool bf16 = true;            // matrices and the embedding as BF16 (norms F32)
  bool vision_tensors = false; // add tensors of a vision tower, to be ignored
  std::string skip;
  std::string halve_rows_of;
};

void write_safetensors(const std::string& path, const Gemma3Config& c, const Weights& weights,
                       const SafetensorsOptions& o = {}) {
  SafetensorsWriter w;
  for (const auto& [name, values] : weights) {
    if (name == o.skip) continue;
    std::vector<int64_t> shape = *gemma3_weight_shape(c, name);
    std::vector<float> v = values;
    if (name == "embed") {
      v = with_extra_rows(std::move(v), c.hidden, o.extra_embed_rows);
      shape[0] += o.extra_embed_rows;
    }
    if (name == o.halve_rows_of) {
      shape[0] /= 2;
      v.resize(static_cast<size_t>(product(shape)));
    }
    const auto dtype = o.bf16 && !gemma3_is_norm_weight(name) ? SafetensorsDType::BF16 : SafetensorsDType::F32;
    Status s = w.add_tensor(*gemma3_hf_name(name, o.prefix), dtype, shape, v);
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  if (o.vision_tensors) {
    std::vector<float> v(64, 0.5f);
    ASSERT_TRUE(w.add_tensor("vision_tower.vision_model.post_layernorm.weight", SafetensorsDType::F32, {64}, v).ok());
    ASSERT_TRUE(
        w.add_tensor("multi_modal_projector.mm_soft_emb_norm.weight", SafetensorsDType::BF16, {64}, v).ok());
  }
  ASSERT_TRUE(w.set_metadata("format", "pt").ok());
  Status s = w.write(path);
  ASSERT_TRUE(s.ok()) << s.error().message;
}

// ------------------------------------------------------- running prefill

HostTensor tokens(const std::vector<int64_t>& ids) {
  return HostTensor::from_ints(DType::i32, {static_cast<int64_t>(ids.size())}, ids);
}

// A prompt longer than the window, touching the first and last token ids.
const std::vector<int64_t> kPrompt = {2, 39, 7, 0, 21, 13, 38, 5, 30};

HostTensor prefill_with_weights(const Gemma3Config& c, const Weights& weights) {
  std::unique_ptr<Module> m = build_gemma3(c);
  ReferenceInterpreter interp(*m);
  for (const auto& [name, values] : weights)
    interp.set_weight(name, HostTensor::from_floats(DType::f32, *gemma3_weight_shape(c, name), values));
  auto out = interp.run("prefill", {tokens(kPrompt)});
  if (!out) throw GraphcError(out.error().message);
  return (*out)[0];
}

Expected<HostTensor> prefill_from_checkpoint(const Gemma3Config& c, const std::string& path) {
  auto ckpt = Gemma3Checkpoint::open(path);
  if (!ckpt) return ckpt.error();
  std::unique_ptr<Module> m = build_gemma3(c);
  auto loader = gemma3_weight_loader(std::make_shared<const Gemma3Checkpoint>(std::move(ckpt).take()), *m);
  if (!loader) return loader.error();
  ReferenceInterpreter interp(*m);
  interp.set_weight_loader(*loader);
  auto out = interp.run("prefill", {tokens(kPrompt)});
  if (!out) return out.error();
  return (*out)[0];
}

// Bit-identical logits: the same weights reach the same interpreter.
void expect_same_logits(const HostTensor& want, const Expected<HostTensor>& got) {
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_EQ(got->shape(), want.shape());
  int64_t differing = 0, first = -1;
  for (int64_t i = 0; i < want.numel(); ++i) {
    if (got->get(i) != want.get(i)) {
      if (first < 0) first = i;
      ++differing;
    }
  }
  EXPECT_EQ(differing, 0) << "first at " << first << ": " << got->get(std::max<int64_t>(first, 0)) << " vs "
                          << want.get(std::max<int64_t>(first, 0));
  // The comparison means something only if the model computes something.
  double spread = 0;
  for (int64_t i = 1; i < want.numel(); ++i) spread = std::max(spread, std::fabs(want.get(i) - want.get(0)));
  EXPECT_GT(spread, 1e-3);
}

// ------------------------------------------------------------ name table

TEST(Gemma3Names, GgufNamesIncludingTheFfnNormTrap) {
  EXPECT_EQ(gemma3_gguf_name("embed"), "token_embd.weight");
  EXPECT_EQ(gemma3_gguf_name("final_norm"), "output_norm.weight");
  EXPECT_EQ(gemma3_gguf_name("layer.3.attn_norm"), "blk.3.attn_norm.weight");
  EXPECT_EQ(gemma3_gguf_name("layer.3.post_attn_norm"), "blk.3.post_attention_norm.weight");
  EXPECT_EQ(gemma3_gguf_name("layer.3.pre_ffn_norm"), "blk.3.ffn_norm.weight");
  EXPECT_EQ(gemma3_gguf_name("layer.3.post_ffn_norm"), "blk.3.post_ffw_norm.weight");
  EXPECT_EQ(gemma3_gguf_name("layer.17.q_proj"), "blk.17.attn_q.weight");
  EXPECT_EQ(gemma3_gguf_name("layer.0.o_proj"), "blk.0.attn_output.weight");
  EXPECT_EQ(gemma3_gguf_name("layer.0.k_norm"), "blk.0.attn_k_norm.weight");
  EXPECT_EQ(gemma3_gguf_name("layer.0.down_proj"), "blk.0.ffn_down.weight");
  EXPECT_EQ(gemma3_graph_name_from_gguf("blk.5.ffn_norm.weight"), "layer.5.pre_ffn_norm");
  EXPECT_EQ(gemma3_graph_name_from_gguf("token_embd.weight"), "embed");
  for (const char* not_ours : {"output.weight", "blk.01.attn_q.weight", "blk.x.attn_q.weight", "blk.1.attn_q",
                               "blk.-1.attn_q.weight", "rope_freqs.weight"})
    EXPECT_EQ(gemma3_graph_name_from_gguf(not_ours), std::nullopt) << not_ours;
}

TEST(Gemma3Names, HuggingFaceNamesUnderEveryPrefix) {
  EXPECT_EQ(gemma3_hf_name("embed"), "model.embed_tokens.weight");
  EXPECT_EQ(gemma3_hf_name("final_norm"), "model.norm.weight");
  EXPECT_EQ(gemma3_hf_name("layer.2.attn_norm"), "model.layers.2.input_layernorm.weight");
  EXPECT_EQ(gemma3_hf_name("layer.2.post_attn_norm"), "model.layers.2.post_attention_layernorm.weight");
  EXPECT_EQ(gemma3_hf_name("layer.2.pre_ffn_norm"), "model.layers.2.pre_feedforward_layernorm.weight");
  EXPECT_EQ(gemma3_hf_name("layer.2.post_ffn_norm"), "model.layers.2.post_feedforward_layernorm.weight");
  EXPECT_EQ(gemma3_hf_name("layer.2.v_proj"), "model.layers.2.self_attn.v_proj.weight");
  EXPECT_EQ(gemma3_hf_name("layer.2.q_norm"), "model.layers.2.self_attn.q_norm.weight");
  EXPECT_EQ(gemma3_hf_name("layer.2.gate_proj"), "model.layers.2.mlp.gate_proj.weight");
  EXPECT_EQ(gemma3_hf_name("layer.2.k_norm", "language_model.model."),
            "language_model.model.layers.2.self_attn.k_norm.weight");
  EXPECT_EQ(gemma3_hf_name("embed", "model.language_model."), "model.language_model.embed_tokens.weight");
  EXPECT_EQ(gemma3_graph_name_from_hf("language_model.model.norm.weight"), "final_norm");
  EXPECT_EQ(gemma3_graph_name_from_hf("model.language_model.layers.4.mlp.up_proj.weight"), "layer.4.up_proj");
  for (const char* not_ours : {"lm_head.weight", "model.vision_tower.x.weight", "language_model.lm_head.weight",
                               "vision_tower.vision_model.post_layernorm.weight", "model.layers.1.mlp.foo.weight"})
    EXPECT_EQ(gemma3_graph_name_from_hf(not_ours), std::nullopt) << not_ours;
}

TEST(Gemma3Names, EveryGraphWeightRoundTripsAndHasItsDeclaredShape) {
  const Gemma3Config c = *gemma3_preset("gemma3-270m");
  std::unique_ptr<Module> m = build_gemma3(c);
  int weights = 0, norms = 0;
  for (const Global& g : m->globals()) {
    if (g.kind != GlobalKind::Weight) continue;
    ++weights;
    norms += gemma3_is_norm_weight(g.name);
    EXPECT_EQ(gemma3_graph_name_from_gguf(*gemma3_gguf_name(g.name)), g.name);
    for (std::string_view prefix : gemma3_hf_prefixes())
      EXPECT_EQ(gemma3_graph_name_from_hf(*gemma3_hf_name(g.name, prefix)), g.name);
    EXPECT_EQ(gemma3_weight_shape(c, g.name), to_static(g.type.shape)) << g.name;
  }
  EXPECT_EQ(weights, 13 * 18 + 2);
  EXPECT_EQ(norms, 6 * 18 + 1);
  EXPECT_EQ(gemma3_weight_shape(c, "layer.18.q_proj"), std::nullopt);  // no such layer
  EXPECT_EQ(gemma3_weight_shape(c, "lm_head"), std::nullopt);
}

// -------------------------------------------- binding gives same logits

TEST(Gemma3Binding, GgufF32MatchesTheOriginalWeightsExactly) {
  const Gemma3Config c = tiny_config();
  const Weights w = tiny_weights(c, 1);
  const std::string path = temp_path("f32.gguf");
  write_gguf(path, c, w);
  expect_same_logits(prefill_with_weights(c, w), prefill_from_checkpoint(c, path));
}

// The weights are built to be exact in Q8_0 (see lossless_matrix), so the
// comparison can stay exact; GgufQ8_0OfArbitraryWeights covers the rounding.
TEST(Gemma3Binding, GgufQ8_0WithExtraEmbeddingRowsMatchesExactly) {
  const Gemma3Config c = tiny_config();
  const Weights w = tiny_weights(c, 2);
  const std::string path = temp_path("q8_0.gguf");
  write_gguf(path, c, w, {.q8_0 = true, .extra_embed_rows = 24});
  auto ckpt = Gemma3Checkpoint::open(path);
  ASSERT_TRUE(ckpt.ok()) << ckpt.error().message;
  EXPECT_EQ(ckpt->format(), CheckpointFormat::gguf);
  EXPECT_EQ(ckpt->gguf()->find_tensor("blk.0.attn_q.weight")->type, GgmlType::Q8_0);
  EXPECT_EQ(ckpt->gguf()->find_tensor("token_embd.weight")->shape(), (std::vector<int64_t>{64, 32}));
  expect_same_logits(prefill_with_weights(c, w), prefill_from_checkpoint(c, path));
}

// Q8_0 of arbitrary values: each element within 0.6 quantization steps of
// the original. Half a step is the rounding of q; d itself is stored as f16
// (relative error <= 2^-11), which moves d * q by at most 127 * 2^-11 ~ 0.06
// of a step.
TEST(Gemma3Binding, GgufQ8_0OfArbitraryWeightsIsWithinHalfAStep) {
  const Gemma3Config c = tiny_config();
  Weights w = tiny_weights(c, 3);
  Rng rng(33);
  std::vector<float>& q = w["layer.1.gate_proj"];
  for (float& x : q) x = static_cast<float>(rng.uniform(-1000000, 1000000)) * 1.3e-7f;
  const std::string path = temp_path("q8_0_lossy.gguf");
  write_gguf(path, c, w, {.q8_0 = true});
  auto ckpt = Gemma3Checkpoint::open(path);
  ASSERT_TRUE(ckpt.ok()) << ckpt.error().message;
  auto loaded = ckpt->load("layer.1.gate_proj", c);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_EQ(loaded->shape(), (std::vector<int64_t>{64, 32}));
  int64_t inexact = 0;
  for (size_t b = 0; b < q.size(); b += 32) {
    float amax = 0;
    for (size_t j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(q[b + j]));
    const double step = amax / 127.0;
    for (size_t j = 0; j < 32; ++j) {
      EXPECT_LE(std::fabs(loaded->get(int64_t(b + j)) - q[b + j]), 0.6 * step) << b + j;
      inexact += loaded->get(int64_t(b + j)) != q[b + j];
    }
  }
  EXPECT_GT(inexact, 0);  // the values really were rounded
}

TEST(Gemma3Binding, SafetensorsBf16AndF32MatchExactly) {
  const Gemma3Config c = tiny_config();
  const Weights w = tiny_weights(c, 4);
  const std::string path = temp_path("model.safetensors");
  write_safetensors(path, c, w);
  auto ckpt = Gemma3Checkpoint::open(path);
  ASSERT_TRUE(ckpt.ok()) << ckpt.error().message;
  EXPECT_EQ(ckpt->format(), CheckpointFormat::safetensors);
  EXPECT_EQ(ckpt->hf_prefix(), "model.");
  EXPECT_EQ(ckpt->safetensors()->find_tensor("model.layers.0.mlp.up_proj.weight")->dtype, SafetensorsDType::BF16);
  EXPECT_EQ(ckpt->safetensors()->find_tensor("model.norm.weight")->dtype, SafetensorsDType::F32);
  expect_same_logits(prefill_with_weights(c, w), prefill_from_checkpoint(c, path));
}

// Norms are zero-centred in safetensors: loaded as stored, no offset.
TEST(Gemma3Binding, NormsAreZeroCentredFromBothFormats) {
  const Gemma3Config c = tiny_config();
  const Weights w = tiny_weights(c, 5);
  const std::string gguf = temp_path("norms.gguf"), st = temp_path("norms.safetensors");
  write_gguf(gguf, c, w);
  write_safetensors(st, c, w, {.bf16 = false});
  for (const std::string& path : {gguf, st}) {
    auto ckpt = Gemma3Checkpoint::open(path);
    ASSERT_TRUE(ckpt.ok()) << ckpt.error().message;
    for (const char* name : {"final_norm", "layer.1.q_norm", "layer.0.pre_ffn_norm", "layer.1.post_attn_norm"}) {
      auto t = ckpt->load(name, c);
      ASSERT_TRUE(t.ok()) << t.error().message;
      EXPECT_EQ(t->floats(), w.at(name)) << path << " " << name;
    }
  }
  // The file itself holds 1 + w.
  auto reader = GgufReader::open(gguf);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader->dequantize_tensor("output_norm.weight"))[0], w.at("final_norm")[0] + 1.0f);
}

class MultimodalPrefix : public ::testing::TestWithParam<const char*> {};

TEST_P(MultimodalPrefix, LoadsWithExtraEmbeddingRowsAndIgnoresTheVisionTower) {
  const Gemma3Config c = tiny_config();
  const Weights w = tiny_weights(c, 6);
  const std::string path = temp_path(std::string("mm_") + std::to_string(std::strlen(GetParam())) + ".safetensors");
  write_safetensors(path, c, w, {.prefix = GetParam(), .extra_embed_rows = 8, .vision_tensors = true});
  auto ckpt = Gemma3Checkpoint::open(path);
  ASSERT_TRUE(ckpt.ok()) << ckpt.error().message;
  EXPECT_EQ(ckpt->hf_prefix(), GetParam());
  EXPECT_EQ(ckpt->file_name("layer.1.o_proj"), std::string(GetParam()) + "layers.1.self_attn.o_proj.weight");
  expect_same_logits(prefill_with_weights(c, w), prefill_from_checkpoint(c, path));
}

INSTANTIATE_TEST_SUITE_P(Gemma3Binding, MultimodalPrefix,
                         ::testing::Values("language_model.model.", "model.language_model."));

TEST(Gemma3Binding, WeightsComeInTheDtypeTheModuleDeclares) {
  const Gemma3Config c = tiny_config();
  const Weights w = tiny_weights(c, 7);
  const std::string path = temp_path("dtype.safetensors");
  write_safetensors(path, c, w);
  auto ckpt = Gemma3Checkpoint::open(path);
  ASSERT_TRUE(ckpt.ok()) << ckpt.error().message;
  std::unique_ptr<Module> m = build_gemma3(c);
  auto loader = gemma3_weight_loader(std::make_shared<const Gemma3Checkpoint>(std::move(ckpt).take()), *m);
  ASSERT_TRUE(loader.ok()) << loader.error().message;
  Global g{GlobalKind::Weight, "layer.0.up_proj", TensorType(DType::bf16, {64, 32})};
  auto t = (*loader)(g);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->type(), g.type);
  EXPECT_EQ(t->floats(), w.at("layer.0.up_proj"));  // bf16-exact values
}

// ---------------------------------------------------------------- config

TEST(Gemma3GgufConfig, ReadsTheTinyModelsMetadata) {
  const Gemma3Config c = tiny_config();
  const std::string path = temp_path("config.gguf");
  write_gguf(path, c, tiny_weights(c, 8), {.extra_embed_rows = 3});
  auto reader = GgufReader::open(path);
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  Gemma3Config preset = c;
  preset.rope_global_base = 1.0e6;  // the file's value wins
  preset.max_position = 128;
  preset.sliding_window = 8;
  auto got = config_from_gguf(*reader, preset);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->name, "tiny");
  EXPECT_EQ(got->vocab, 40);
  EXPECT_EQ(got->hidden, 32);
  EXPECT_EQ(got->layers, 2);
  EXPECT_EQ(got->global_every, 2);
  EXPECT_EQ(got->sliding_window, 4);
  EXPECT_EQ(got->max_position, 64);
  EXPECT_EQ(got->max_context, 16);
  EXPECT_DOUBLE_EQ(got->rope_global_base, 20000.0);
  EXPECT_DOUBLE_EQ(got->rope_global_scale, 1.0);
  EXPECT_DOUBLE_EQ(got->rope_local_base, 10000.0);
  EXPECT_FLOAT_EQ(static_cast<float>(got->rms_eps), 1e-6f);
}

// A GGUF holding only metadata: the 1B model's dimensions, or the 270M's.
std::string write_metadata_only(const std::string& file, const Gemma3Config& c, bool linear_scaling = false) {
  GgufWriter w;
  put_metadata(w, c);
  if (linear_scaling) {
    w.set_string("gemma3.rope.scaling.type", "linear");
    w.set_f32("gemma3.rope.scaling.factor", 8.0f);
  }
  const std::string path = temp_path(file);
  EXPECT_TRUE(w.write(path).ok());
  return path;
}

TEST(Gemma3GgufConfig, DimensionMismatchWithThePresetIsOneClearLine) {
  const std::string path = write_metadata_only("model.gguf", *gemma3_preset("gemma3-1b"));
  auto reader = GgufReader::open(path);
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  auto got = config_from_gguf(*reader, "gemma3-270m");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().message, path + ": gemma3.embedding_length is 1152 but preset gemma3-270m has hidden 640");
  EXPECT_TRUE(config_from_gguf(*reader, "gemma3-1b").ok());
  auto unknown = config_from_gguf(*reader, "gemma3-2b");
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.error().message, HasSubstr("unknown model preset 'gemma3-2b'"));

  Gemma3Config fewer_layers = *gemma3_preset("gemma3-270m");
  fewer_layers.layers = 17;
  auto layers = config_from_gguf(*GgufReader::open(write_metadata_only("layers.gguf", fewer_layers)), "gemma3-270m");
  ASSERT_FALSE(layers.ok());
  EXPECT_THAT(layers.error().message, HasSubstr("layers.gguf: gemma3.block_count is 17 but preset gemma3-270m has "
                                                "layers 18"));
}

TEST(Gemma3GgufConfig, TakesTheLinearRopeScalingOfTheLargerModels) {
  const std::string path = write_metadata_only("4b.gguf", *gemma3_preset("gemma3-4b"), /*linear_scaling=*/true);
  auto got = config_from_gguf(*GgufReader::open(path), "gemma3-4b");
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_DOUBLE_EQ(got->rope_global_scale, 8.0);
  EXPECT_EQ(got->sliding_window, 1024);
}

TEST(Gemma3GgufConfig, RefusesOtherArchitecturesAndMissingDimensions) {
  GgufWriter w;
  put_metadata(w, tiny_config());
  w.set_string("general.architecture", "llama");
  const std::string llama = temp_path("llama.gguf");
  ASSERT_TRUE(w.write(llama).ok());
  auto got = config_from_gguf(*GgufReader::open(llama), tiny_config());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().message, llama + ": general.architecture is \"llama\", expected \"gemma3\"");

  GgufWriter bare;
  bare.set_string("general.architecture", "gemma3");
  const std::string bare_path = temp_path("bare.gguf");
  ASSERT_TRUE(bare.write(bare_path).ok());
  got = config_from_gguf(*GgufReader::open(bare_path), tiny_config());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().message, bare_path + ": gemma3.embedding_length is missing (preset tiny has hidden 32)");
}

// ------------------------------------------------------------ tokenizer

TEST(Gemma3GgufTokenizer, BuildsFromTheVocabularyAndSpecialIds) {
  const Gemma3Config c = tiny_config();
  GgufWriter w;
  put_metadata(w, c);
  const TinyVocab v = tiny_vocab();
  w.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(v.id("<end_of_turn>")));  // as some IT files do
  const std::string path = temp_path("tokenizer.gguf");
  ASSERT_TRUE(w.write(path).ok());
  auto tok = tokenizer_from_gguf(*GgufReader::open(path));
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ(tok->vocab_size(), static_cast<int32_t>(v.pieces.size()));
  EXPECT_EQ(tok->bos_id(), 2);
  EXPECT_EQ(tok->eos_id(), v.id("<end_of_turn>"));
  EXPECT_EQ(tok->encode("hello world", true), (std::vector<int32_t>{2, v.id("hello"), v.id("▁world")}));
  EXPECT_EQ(tok->decode(tok->encode("hello world", false)), "hello world");
}

TEST(Gemma3GgufTokenizer, MissingOrInconsistentArraysAreOneLine) {
  GgufWriter w;
  put_metadata(w, tiny_config());
  w.set_f32_array("tokenizer.ggml.scores", {0.0f, 1.0f});
  const std::string path = temp_path("bad_vocab.gguf");
  ASSERT_TRUE(w.write(path).ok());
  auto tok = tokenizer_from_gguf(*GgufReader::open(path));
  ASSERT_FALSE(tok.ok());
  expect_one_line(tok.error().message, path, "tokenizer.ggml.scores");

  GgufWriter gpt2;
  put_metadata(gpt2, tiny_config());
  gpt2.set_string("tokenizer.ggml.model", "gpt2");
  const std::string gpt2_path = temp_path("gpt2.gguf");
  ASSERT_TRUE(gpt2.write(gpt2_path).ok());
  tok = tokenizer_from_gguf(*GgufReader::open(gpt2_path));
  ASSERT_FALSE(tok.ok());
  expect_one_line(tok.error().message, gpt2_path, "tokenizer.ggml.model is \"gpt2\"");
}

// --------------------------------------------------------------- errors

Expected<Gemma3WeightLoader> loader_for(const std::string& path, const Gemma3Config& c) {
  auto ckpt = Gemma3Checkpoint::open(path);
  if (!ckpt) return ckpt.error();
  std::unique_ptr<Module> m = build_gemma3(c);
  return gemma3_weight_loader(std::make_shared<const Gemma3Checkpoint>(std::move(ckpt).take()), *m);
}

TEST(Gemma3CheckpointErrors, MissingTensor) {
  const Gemma3Config c = tiny_config();
  const Weights w = tiny_weights(c, 9);
  const std::string gguf = temp_path("missing.gguf");
  write_gguf(gguf, c, w, {.skip = "layer.1.up_proj"});
  auto got = loader_for(gguf, c);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().message,
            gguf + ": missing tensor 'blk.1.ffn_up.weight' (graph weight layer.1.up_proj), expected shape [64, 32]");

  const std::string st = temp_path("missing.safetensors");
  write_safetensors(st, c, w, {.prefix = "language_model.model.", .skip = "layer.0.k_norm"});
  got = loader_for(st, c);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().message, st + ": missing tensor 'language_model.model.layers.0.self_attn.k_norm.weight' "
                                      "(graph weight layer.0.k_norm), expected shape [16]");
}

TEST(Gemma3CheckpointErrors, WrongShape) {
  const Gemma3Config c = tiny_config();
  const Weights w = tiny_weights(c, 10);
  const std::string gguf = temp_path("shape.gguf");
  write_gguf(gguf, c, w, {.halve_rows_of = "layer.0.q_proj"});
  auto got = loader_for(gguf, c);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().message, gguf + ": tensor 'blk.0.attn_q.weight' (graph weight layer.0.q_proj) has shape "
                                        "[16, 32] (GGUF ne [32, 16]), expected [32, 32]");

  const std::string st = temp_path("shape.safetensors");
  write_safetensors(st, c, w, {.halve_rows_of = "layer.1.down_proj"});
  got = loader_for(st, c);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().message, st + ": tensor 'model.layers.1.mlp.down_proj.weight' (graph weight "
                                      "layer.1.down_proj) has shape [16, 64], expected [32, 64]");
}

TEST(Gemma3CheckpointErrors, EmbeddingWithFewerRowsThanTheVocab) {
  const Gemma3Config c = tiny_config();
  const std::string gguf = temp_path("rows.gguf");
  write_gguf(gguf, c, tiny_weights(c, 11), {.halve_rows_of = "embed"});
  auto got = loader_for(gguf, c);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().message, gguf + ": tensor 'token_embd.weight' (graph weight embed) has 20 rows, but the "
                                        "model's vocab is 40 (expected at least 40 rows)");
  auto config = config_from_gguf(*GgufReader::open(gguf), c);
  ASSERT_FALSE(config.ok());
  expect_one_line(config.error().message, gguf, "token_embd.weight");
}

TEST(Gemma3CheckpointErrors, UnsupportedDtype) {
  // A hand-made safetensors file: model.norm.weight as I32.
  const std::string header = R"({"model.norm.weight":{"dtype":"I32","shape":[32],"data_offsets":[0,128]}})";
  std::vector<uint8_t> bytes(8);
  const uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.resize(bytes.size() + 128, 0);
  const std::string path = temp_path("int.safetensors");
  write_bytes(path, bytes);
  auto ckpt = Gemma3Checkpoint::open(path);
  ASSERT_TRUE(ckpt.ok()) << ckpt.error().message;
  auto got = ckpt->load("final_norm", tiny_config());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().message,
            path + ": tensor 'model.norm.weight' (graph weight final_norm) has dtype I32, expected F32, F16 or BF16");
}

TEST(Gemma3CheckpointErrors, BadMagic) {
  const Gemma3Config c = tiny_config();
  const std::string good = temp_path("good.gguf");
  write_gguf(good, c, tiny_weights(c, 12));
  std::vector<uint8_t> bytes = read_bytes(good);
  bytes[3] = 'X';
  const std::string gguf = temp_path("magic.gguf");
  write_bytes(gguf, bytes);
  auto got = Gemma3Checkpoint::open(gguf);
  ASSERT_FALSE(got.ok());
  expect_one_line(got.error().message, gguf, "bad magic");
  EXPECT_THAT(got.error().message, HasSubstr("GGUF"));

  // Neither format, and no name to suggest one.
  const std::string other = temp_path("weights.bin");
  write_bytes(other, bytes);
  got = Gemma3Checkpoint::open(other);
  ASSERT_FALSE(got.ok());
  std::string found;
  for (int i = 0; i < 9; ++i) {
    char hex[4];
    std::snprintf(hex, sizeof hex, " %02x", bytes[i]);
    found += hex;
  }
  EXPECT_EQ(found.substr(0, 24), " 47 47 55 58 03 00 00 00");
  EXPECT_EQ(got.error().message, other + ": not a GGUF or safetensors checkpoint (expected the magic \"GGUF\" = 47 "
                                         "47 55 46, or an 8-byte header length followed by '{'; found" +
                                         found + ")");
}

TEST(Gemma3CheckpointErrors, TruncatedGguf) {
  const Gemma3Config c = tiny_config();
  const std::string good = temp_path("whole.gguf");
  write_gguf(good, c, tiny_weights(c, 13));
  const std::vector<uint8_t> bytes = read_bytes(good);

  // Cut inside the tensor data: the error names a tensor that runs past the end.
  const std::string in_data = temp_path("cut_data.gguf");
  write_bytes(in_data, {bytes.begin(), bytes.end() - 100});
  auto got = Gemma3Checkpoint::open(in_data);
  ASSERT_FALSE(got.ok());
  expect_one_line(got.error().message, in_data, "runs past the end of the file");
  EXPECT_THAT(got.error().message, HasSubstr("tensor '"));

  // Cut inside the header.
  const std::string in_header = temp_path("cut_header.gguf");
  write_bytes(in_header, {bytes.begin(), bytes.begin() + 200});
  got = Gemma3Checkpoint::open(in_header);
  ASSERT_FALSE(got.ok());
  expect_one_line(got.error().message, in_header, "truncated");
}

TEST(Gemma3CheckpointErrors, CheckpointWithMoreLayersThanTheConfig) {
  Gemma3Config three = tiny_config();
  three.layers = 3;
  const std::string path = temp_path("three.gguf");
  write_gguf(path, three, tiny_weights(three, 14));
  auto got = loader_for(path, tiny_config());
  ASSERT_FALSE(got.ok());
  expect_one_line(got.error().message, path, "'blk.2.");
  EXPECT_THAT(got.error().message, HasSubstr("more layers than the model config"));
}

TEST(Gemma3CheckpointErrors, NotAGemma3WeightName) {
  const Gemma3Config c = tiny_config();
  const std::string path = temp_path("names.gguf");
  write_gguf(path, c, tiny_weights(c, 15));
  auto ckpt = Gemma3Checkpoint::open(path);
  ASSERT_TRUE(ckpt.ok());
  auto got = ckpt->load("lm_head", std::vector<int64_t>{40, 32});
  ASSERT_FALSE(got.ok());
  expect_one_line(got.error().message, path, "'lm_head' is not a Gemma-3 graph weight");
  got = ckpt->load("layer.2.q_proj", c);
  ASSERT_FALSE(got.ok());
  expect_one_line(got.error().message, path, "layer.2.q_proj");
}

// ------------------------------------------- the real Gemma-3 270M GGUF

fs::path gemma_gguf_path() { return graphc::test_support::gemma3_270m_gguf(); }

class Gemma270m : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(gemma_gguf_path())) return;
    auto ckpt = Gemma3Checkpoint::open(gemma_gguf_path().string());
    if (ckpt) checkpoint_ = std::make_shared<const Gemma3Checkpoint>(std::move(ckpt).take());
    else open_error_ = ckpt.error().message;
  }
  static void TearDownTestSuite() { checkpoint_.reset(); }
  void SetUp() override {
    if (!fs::exists(gemma_gguf_path()))
      GTEST_SKIP() << gemma_gguf_path() << " is absent; scripts/fetch-weights.sh fetches it";
    ASSERT_TRUE(checkpoint_) << open_error_;
  }
  const Gemma3Checkpoint& ckpt() const { return *checkpoint_; }

  static inline std::shared_ptr<const Gemma3Checkpoint> checkpoint_;
  static inline std::string open_error_;
};

TEST_F(Gemma270m, ConfigMatchesThePreset) {
  auto c = config_from_gguf(*ckpt().gguf(), "gemma3-270m");
  ASSERT_TRUE(c.ok()) << c.error().message;
  const Gemma3Config p = *gemma3_preset("gemma3-270m");
  EXPECT_EQ(c->hidden, p.hidden);
  EXPECT_EQ(c->intermediate, p.intermediate);
  EXPECT_EQ(c->layers, p.layers);
  EXPECT_EQ(c->heads, p.heads);
  EXPECT_EQ(c->kv_heads, p.kv_heads);
  EXPECT_EQ(c->head_dim, p.head_dim);
  EXPECT_EQ(c->sliding_window, 512);
  EXPECT_EQ(c->max_position, 32768);
  EXPECT_EQ(c->vocab, 262144);
  EXPECT_DOUBLE_EQ(c->rope_global_base, 1e6);
  EXPECT_DOUBLE_EQ(c->rope_local_base, 10000.0);
  EXPECT_DOUBLE_EQ(c->rope_global_scale, 1.0);
  EXPECT_NEAR(c->rms_eps, 1e-6, 1e-12);
  auto wrong = config_from_gguf(*ckpt().gguf(), "gemma3-1b");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().message,
            gemma_gguf_path().string() + ": gemma3.embedding_length is 640 but preset gemma3-1b has hidden 1152");
  // Every weight of the 270M module is there with its shape (no data read).
  std::unique_ptr<Module> m = build_gemma3(*c);
  Status s = ckpt().check_module(*m);
  EXPECT_TRUE(s.ok()) << s.error().message;
}

// Finite, not all zero, of a plausible scale for a trained weight.
void expect_sane(const HostTensor& t, const std::string& what, double min_rms, double max_rms) {
  double sum_sq = 0;
  int64_t non_finite = 0;
  for (float v : t.floats()) {
    non_finite += !std::isfinite(v);
    sum_sq += double(v) * v;
  }
  EXPECT_EQ(non_finite, 0) << what;
  const double rms = std::sqrt(sum_sq / double(t.numel()));
  EXPECT_GT(rms, min_rms) << what;
  EXPECT_LT(rms, max_rms) << what;
}

TEST_F(Gemma270m, LoadsEveryQuantizedTypeWithTheGraphsShapes) {
  const Gemma3Config c = *gemma3_preset("gemma3-270m");
  // Layer 0 is one of the "more bits" layers: attn_v Q8_0, ffn_down Q6_K.
  const std::vector<std::pair<std::string, GgmlType>> cases = {
      {"layer.0.q_proj", GgmlType::Q5_0},   {"layer.0.v_proj", GgmlType::Q8_0},
      {"layer.0.o_proj", GgmlType::Q4_K},   {"layer.0.down_proj", GgmlType::Q6_K},
      {"layer.2.down_proj", GgmlType::Q4_K}, {"layer.5.gate_proj", GgmlType::Q5_0},
  };
  for (const auto& [name, type] : cases) {
    const std::string file = *ckpt().file_name(name);
    ASSERT_EQ(ckpt().gguf()->find_tensor(file)->type, type) << file;
    auto t = ckpt().load(name, c);
    ASSERT_TRUE(t.ok()) << t.error().message;
    EXPECT_EQ(t->shape(), *gemma3_weight_shape(c, name)) << name;
    expect_sane(*t, name, 1e-3, 1.0);
    // The binding decodes what the reader decodes, in the graph's layout.
    auto raw = ckpt().gguf()->dequantize_tensor(file);
    ASSERT_TRUE(raw.ok());
    EXPECT_EQ(t->floats(), *raw) << name;
  }
}

TEST_F(Gemma270m, EmbeddingKeepsTheFirstVocabRows) {
  auto t = ckpt().load("embed", std::vector<int64_t>{1000, 640});
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(ckpt().gguf()->find_tensor("token_embd.weight")->type, GgmlType::Q8_0);
  auto rows = ckpt().gguf()->dequantize_rows("token_embd.weight", 0, 1000);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(t->floats(), *rows);
  expect_sane(*t, "embed", 1e-3, 1.0);
}

// GGUF stores 1 + w; the graph gets w. The model was trained and published
// in bf16, so every w the binding gives back must be a bf16 value (the
// converter's 1 + w in f32 lost nothing), while many stored 1 + w are not
// (1 + w needs more significant bits than w when |w| < 1): a missing or
// doubled offset would show.
TEST_F(Gemma270m, NormWeightsComeBackAsTheirBf16Originals) {
  const Gemma3Config c = *gemma3_preset("gemma3-270m");
  std::unique_ptr<Module> m = build_gemma3(c);
  int64_t norms = 0, values = 0, not_bf16 = 0, stored_not_bf16 = 0;
  for (const Global& g : m->globals()) {
    if (g.kind != GlobalKind::Weight || !gemma3_is_norm_weight(g.name)) continue;
    ++norms;
    const std::string file = *ckpt().file_name(g.name);
    ASSERT_EQ(ckpt().gguf()->find_tensor(file)->type, GgmlType::F32) << file;
    auto t = ckpt().load(g.name, c);
    ASSERT_TRUE(t.ok()) << t.error().message;
    EXPECT_EQ(t->shape(), to_static(g.type.shape));
    auto stored = ckpt().gguf()->dequantize_tensor(file);
    ASSERT_TRUE(stored.ok());
    for (int64_t i = 0; i < t->numel(); ++i) {
      const float w = t->floats()[i];
      ASSERT_TRUE(std::isfinite(w)) << g.name;
      EXPECT_EQ(w, (*stored)[i] - 1.0f) << g.name;
      not_bf16 += round_to_dtype(w, DType::bf16) != w;
      stored_not_bf16 += round_to_dtype((*stored)[i], DType::bf16) != (*stored)[i];
      ++values;
    }
  }
  EXPECT_EQ(norms, 6 * 18 + 1);
  EXPECT_EQ(values, 4 * 18 * 640 + 2 * 18 * 256 + 640);
  EXPECT_EQ(not_bf16, 0);
  EXPECT_GT(stored_not_bf16, values / 10);
}

nlohmann::json read_golden() {
  std::ifstream in(fs::path(GRAPHC_SOURCE_DIR) / "tests" / "fixtures" / "gemma3-270m" / "golden.json");
  if (!in) throw GraphcError("tests/fixtures/gemma3-270m/golden.json is missing");
  return nlohmann::json::parse(in);
}

TEST_F(Gemma270m, TokenizerEncodesTheFixturePromptsToTheirIds) {
  auto tok = tokenizer_from_gguf(*ckpt().gguf());
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  const nlohmann::json golden = read_golden();
  int compared = 0;
  for (const auto& prompt : golden.at("prompts")) {
    const auto text = prompt.at("text").get<std::string>();
    const auto ids = prompt.at("ids").get<std::vector<int32_t>>();
    EXPECT_EQ(tok->encode(text, prompt.at("add_bos").get<bool>()), ids) << prompt.at("name");
    ++compared;
  }
  EXPECT_GE(compared, 1);
  // One spelled out, so the fixture cannot silently change under the test.
  EXPECT_EQ(tok->encode("The capital of France is", true), (std::vector<int32_t>{2, 818, 5279, 529, 7001, 563}));
}

// The whole binding end to end: the 270M model, its weights loaded through
// gemma3_weight_loader, prefill on the reference interpreter, against the
// fixture's logits from Hugging Face transformers (float32, eager) on the
// same dequantized weights. A wrong name, a missing or doubled norm offset
// or a transposed matrix moves logits by whole units; the two float32
// computations differ by ~1e-5 on logits of ~20 (the interpreter accumulates
// in double), so 1e-3 is far below the first and far above the second.
TEST_F(Gemma270m, PrefillThroughTheBindingGivesTheFixtureLogits) {
  auto config = config_from_gguf(*ckpt().gguf(), "gemma3-270m");
  ASSERT_TRUE(config.ok()) << config.error().message;
  config->max_context = 64;  // small caches; the prompt is 6 tokens
  std::unique_ptr<Module> m = build_gemma3(*config);
  auto loader = gemma3_weight_loader(checkpoint_, *m);
  ASSERT_TRUE(loader.ok()) << loader.error().message;
  ReferenceInterpreter interp(*m);
  interp.set_weight_loader(*loader);

  const nlohmann::json golden = read_golden();
  const nlohmann::json& prompt = golden.at("prompts").at(0);
  ASSERT_EQ(prompt.at("name"), "prose_capital");
  const auto ids = prompt.at("ids").get<std::vector<int64_t>>();
  auto out = interp.run("prefill", {tokens(ids)});
  ASSERT_TRUE(out.ok()) << out.error().message;
  const HostTensor& logits = (*out)[0];
  const int64_t V = config->vocab;
  ASSERT_EQ(logits.shape(), (std::vector<int64_t>{static_cast<int64_t>(ids.size()), V}));
  for (size_t p = 0; p < ids.size(); ++p) {
    const nlohmann::json& want = prompt.at("positions").at(p);
    const auto top_ids = want.at("top_ids").get<std::vector<int64_t>>();
    const auto top_logits = want.at("top_logits").get<std::vector<double>>();
    int64_t argmax = 0;
    for (int64_t v = 1; v < V; ++v)
      if (logits.get(int64_t(p) * V + v) > logits.get(int64_t(p) * V + argmax)) argmax = v;
    EXPECT_EQ(argmax, top_ids[0]) << "position " << p;
    for (size_t k = 0; k < top_ids.size(); ++k)
      EXPECT_NEAR(logits.get(int64_t(p) * V + top_ids[k]), top_logits[k], 1e-3) << "position " << p << " id "
                                                                                 << top_ids[k];
  }
}

}  // namespace
}  // namespace graphc
