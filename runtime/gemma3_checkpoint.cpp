#include "runtime/gemma3_checkpoint.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "runtime/dequantize.h"
#include "runtime/mapped_file.h"

namespace graphc {
namespace {

// The one name table (gemma3.md §3.1 and §3.2). Note the GGUF naming trap:
// blk.N.ffn_norm is the PRE-feed-forward norm, and Gemma's
// post_attention_layernorm is a true post-norm (not Llama's pre-FFN norm).
constexpr Gemma3WeightNames kWeights[] = {
    {"embed", "token_embd.weight", "embed_tokens.weight", false, false},
    {"final_norm", "output_norm.weight", "norm.weight", false, true},
    {"attn_norm", "attn_norm.weight", "input_layernorm.weight", true, true},
    {"post_attn_norm", "post_attention_norm.weight", "post_attention_layernorm.weight", true, true},
    {"pre_ffn_norm", "ffn_norm.weight", "pre_feedforward_layernorm.weight", true, true},
    {"post_ffn_norm", "post_ffw_norm.weight", "post_feedforward_layernorm.weight", true, true},
    {"q_proj", "attn_q.weight", "self_attn.q_proj.weight", true, false},
    {"k_proj", "attn_k.weight", "self_attn.k_proj.weight", true, false},
    {"v_proj", "attn_v.weight", "self_attn.v_proj.weight", true, false},
    {"o_proj", "attn_output.weight", "self_attn.o_proj.weight", true, false},
    {"q_norm", "attn_q_norm.weight", "self_attn.q_norm.weight", true, true},
    {"k_norm", "attn_k_norm.weight", "self_attn.k_norm.weight", true, true},
    {"gate_proj", "ffn_gate.weight", "mlp.gate_proj.weight", true, false},
    {"up_proj", "ffn_up.weight", "mlp.up_proj.weight", true, false},
    {"down_proj", "ffn_down.weight", "mlp.down_proj.weight", true, false},
};

constexpr std::string_view kHfPrefixes[] = {"model.", "language_model.model.", "model.language_model."};

// llama.cpp's converter adds this to every tensor whose name ends in
// "norm.weight" (all four per-layer norms, q_norm, k_norm and the final
// norm), so a GGUF holds the gain 1 + w where the graph wants w.
constexpr float kGgufNormOffset = 1.0f;

// THE place where GGUF norm weights are made zero-centred again; nothing
// else adds or subtracts the offset, and safetensors norms are already w.
// For weights born in bf16 (all published Gemma-3 checkpoints) the
// converter's f32 sum 1 + w was exact unless 0 < |w| < 2^-16, so this gives
// back w bit for bit (every norm of the 270M GGUF does); the graph then
// computes the gain 1 + w that llama.cpp reads from the file.
void undo_gguf_norm_offset(std::span<float> stored_gain) {
  for (float& v : stored_gain) v -= kGgufNormOffset;
}

// A graph name split into its table row and layer (-1 for globals).
struct ParsedName {
  const Gemma3WeightNames* row = nullptr;
  int64_t layer = -1;
};

// A canonical non-negative decimal: no sign, no leading zeros.
std::optional<int64_t> parse_index(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 0) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  return v;
}

// "<head><N>.<what>" with a row whose `field` is `what`; globals match whole.
template <typename Field>
std::optional<ParsedName> parse_with(std::string_view name, std::string_view layer_head, Field field) {
  for (const Gemma3WeightNames& row : kWeights)
    if (!row.per_layer && name == field(row)) return ParsedName{&row, -1};
  if (!name.starts_with(layer_head)) return std::nullopt;
  name.remove_prefix(layer_head.size());
  const size_t dot = name.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const auto layer = parse_index(name.substr(0, dot));
  if (!layer) return std::nullopt;
  const std::string_view what = name.substr(dot + 1);
  for (const Gemma3WeightNames& row : kWeights)
    if (row.per_layer && what == field(row)) return ParsedName{&row, *layer};
  return std::nullopt;
}

std::optional<ParsedName> parse_graph_name(std::string_view name) {
  return parse_with(name, "layer.", [](const Gemma3WeightNames& r) { return std::string_view(r.graph); });
}

std::optional<ParsedName> parse_gguf_name(std::string_view name) {
  return parse_with(name, "blk.", [](const Gemma3WeightNames& r) { return std::string_view(r.gguf); });
}

// A Hugging Face name under exactly this prefix.
std::optional<ParsedName> parse_hf_name(std::string_view name, std::string_view prefix) {
  if (!name.starts_with(prefix)) return std::nullopt;
  return parse_with(name.substr(prefix.size()), "layers.",
                    [](const Gemma3WeightNames& r) { return std::string_view(r.hf); });
}

std::string graph_name(const ParsedName& p) {
  return p.layer < 0 ? std::string(p.row->graph) : fmt::format("layer.{}.{}", p.layer, p.row->graph);
}

std::string gguf_name(const ParsedName& p) {
  return p.layer < 0 ? std::string(p.row->gguf) : fmt::format("blk.{}.{}", p.layer, p.row->gguf);
}

std::string hf_name(const ParsedName& p, std::string_view prefix) {
  if (p.layer < 0) return fmt::format("{}{}", prefix, p.row->hf);
  return fmt::format("{}layers.{}.{}", prefix, p.layer, p.row->hf);
}

std::string shape_text(const std::vector<int64_t>& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

std::optional<GgmlType> ggml_type_of(SafetensorsDType t) {
  switch (t) {
    case SafetensorsDType::F32: return GgmlType::F32;
    case SafetensorsDType::F16: return GgmlType::F16;
    case SafetensorsDType::BF16: return GgmlType::BF16;
    default: return std::nullopt;
  }
}

}  // namespace

std::span<const Gemma3WeightNames> gemma3_weight_table() { return kWeights; }
std::span<const std::string_view> gemma3_hf_prefixes() { return kHfPrefixes; }

std::optional<std::string> gemma3_gguf_name(std::string_view name) {
  auto p = parse_graph_name(name);
  return p ? std::optional(gguf_name(*p)) : std::nullopt;
}

std::optional<std::string> gemma3_hf_name(std::string_view name, std::string_view prefix) {
  auto p = parse_graph_name(name);
  return p ? std::optional(hf_name(*p, prefix)) : std::nullopt;
}

std::optional<std::string> gemma3_graph_name_from_gguf(std::string_view name) {
  auto p = parse_gguf_name(name);
  return p ? std::optional(graph_name(*p)) : std::nullopt;
}

std::optional<std::string> gemma3_graph_name_from_hf(std::string_view name) {
  for (std::string_view prefix : kHfPrefixes)
    if (auto p = parse_hf_name(name, prefix)) return graph_name(*p);
  return std::nullopt;
}

bool gemma3_is_norm_weight(std::string_view name) {
  auto p = parse_graph_name(name);
  return p && p->row->norm;
}

std::optional<std::vector<int64_t>> gemma3_weight_shape(const Gemma3Config& c, std::string_view name) {
  auto p = parse_graph_name(name);
  if (!p || p->layer >= c.layers) return std::nullopt;
  const std::string_view what = p->row->graph;
  const int64_t D = c.hidden, F = c.intermediate, q = c.heads * c.head_dim, kv = c.kv_heads * c.head_dim;
  if (what == "embed") return std::vector<int64_t>{c.vocab, D};
  if (what == "q_proj") return std::vector<int64_t>{q, D};
  if (what == "k_proj" || what == "v_proj") return std::vector<int64_t>{kv, D};
  if (what == "o_proj") return std::vector<int64_t>{D, q};
  if (what == "q_norm" || what == "k_norm") return std::vector<int64_t>{c.head_dim};
  if (what == "gate_proj" || what == "up_proj") return std::vector<int64_t>{F, D};
  if (what == "down_proj") return std::vector<int64_t>{D, F};
  return std::vector<int64_t>{D};  // the four per-layer norms and final_norm
}

std::string_view checkpoint_format_name(CheckpointFormat f) {
  return f == CheckpointFormat::gguf ? "GGUF" : "safetensors";
}

// ---------------------------------------------------------------------------
// Gemma3Checkpoint

// Where a graph weight's bytes are, once checked against the wanted shape.
struct Gemma3Checkpoint::Source {
  std::string file_name;
  bool norm = false;
  GgmlType type = GgmlType::F32;
  const uint8_t* data = nullptr;
  int64_t n_elements = 0;  // the leading elements to decode (the first rows)
};

Expected<Gemma3Checkpoint> Gemma3Checkpoint::open(const std::string& path) {
  // Peek at the content; the reader then maps the file itself.
  Expected<MappedFile> file = MappedFile::open(path);
  if (!file) return file.error();
  const std::span<const uint8_t> head = file->bytes().first(std::min<size_t>(file->size(), 16));
  const bool is_gguf = head.size() >= 4 && std::memcmp(head.data(), "GGUF", 4) == 0;
  const bool is_safetensors = head.size() >= 9 && head[8] == '{';
  const bool gguf_name_hint = path.ends_with(".gguf");
  const bool safetensors_name_hint = path.ends_with(".safetensors");
  if (is_gguf || (!is_safetensors && gguf_name_hint)) {
    Expected<GgufReader> r = GgufReader::open(path);
    if (!r) return r.error();
    return from_gguf(std::move(r).take());
  }
  if (is_safetensors || safetensors_name_hint) {
    Expected<SafetensorsReader> r = SafetensorsReader::open(path);
    if (!r) return r.error();
    return from_safetensors(std::move(r).take());
  }
  std::string found;
  for (uint8_t b : head.first(std::min<size_t>(head.size(), 9))) found += fmt::format(" {:02x}", b);
  return Error{fmt::format("{}: not a GGUF or safetensors checkpoint (expected the magic \"GGUF\" = 47 47 55 46, "
                           "or an 8-byte header length followed by '{{'; found{})",
                           path, found.empty() ? " an empty file" : found)};
}

Gemma3Checkpoint Gemma3Checkpoint::from_gguf(GgufReader reader) {
  Gemma3Checkpoint c;
  c.reader_ = std::move(reader);
  return c;
}

Gemma3Checkpoint Gemma3Checkpoint::from_safetensors(SafetensorsReader reader) {
  Gemma3Checkpoint c;
  // The first prefix that holds a Gemma-3 tensor ("model." when none does,
  // so that missing-tensor errors name the usual names). The prefixes cannot
  // be confused: under "model.", "language_model.layers..." is no Gemma-3 name.
  c.hf_prefix_ = std::string(kHfPrefixes[0]);
  auto holds_gemma3 = [&](std::string_view prefix) {
    return std::any_of(reader.tensors().begin(), reader.tensors().end(),
                       [&](const SafetensorsTensorInfo& t) { return parse_hf_name(t.name, prefix).has_value(); });
  };
  for (std::string_view prefix : kHfPrefixes) {
    if (holds_gemma3(prefix)) {
      c.hf_prefix_ = std::string(prefix);
      break;
    }
  }
  c.reader_ = std::move(reader);
  return c;
}

const std::string& Gemma3Checkpoint::path() const {
  if (const auto* g = std::get_if<GgufReader>(&reader_)) return g->path();
  return std::get<SafetensorsReader>(reader_).path();
}

CheckpointFormat Gemma3Checkpoint::format() const {
  return std::holds_alternative<GgufReader>(reader_) ? CheckpointFormat::gguf : CheckpointFormat::safetensors;
}

const GgufReader* Gemma3Checkpoint::gguf() const { return std::get_if<GgufReader>(&reader_); }
const SafetensorsReader* Gemma3Checkpoint::safetensors() const { return std::get_if<SafetensorsReader>(&reader_); }

std::optional<std::string> Gemma3Checkpoint::file_name(std::string_view name) const {
  auto p = parse_graph_name(name);
  if (!p) return std::nullopt;
  return gguf() ? gguf_name(*p) : hf_name(*p, hf_prefix_);
}

Expected<Gemma3Checkpoint::Source> Gemma3Checkpoint::find(std::string_view name,
                                                          const std::vector<int64_t>& shape) const {
  auto parsed = parse_graph_name(name);
  if (!parsed)
    return Error{fmt::format("{}: '{}' is not a Gemma-3 graph weight, so it has no name in the checkpoint", path(),
                             name)};
  Source src;
  src.file_name = *file_name(name);
  src.norm = parsed->row->norm;
  const bool is_embed = parsed->row == &kWeights[0];  // the table starts with embed
  const std::string which = fmt::format("tensor '{}' (graph weight {})", src.file_name, name);

  std::vector<int64_t> file_shape;
  std::string ggml_ne;  // GGUF's own notation, for shape errors
  if (const GgufReader* g = gguf()) {
    const GgufTensorInfo* t = g->find_tensor(src.file_name);
    if (!t) return Error{fmt::format("{}: missing {}, expected shape {}", path(), which, shape_text(shape))};
    if (!can_dequantize(t->type))
      return Error{fmt::format("{}: {} has type {}, which cannot be dequantized", path(), which,
                               ggml_type_name(t->type))};
    src.type = t->type;
    src.data = g->file_bytes().data() + g->data_offset() + t->offset;
    file_shape = t->shape();
    ggml_ne = fmt::format(" (GGUF ne {})", shape_text(t->ne));
  } else {
    const SafetensorsReader& s = std::get<SafetensorsReader>(reader_);
    const SafetensorsTensorInfo* t = s.find_tensor(src.file_name);
    if (!t) return Error{fmt::format("{}: missing {}, expected shape {}", path(), which, shape_text(shape))};
    auto type = ggml_type_of(t->dtype);
    if (!type)
      return Error{fmt::format("{}: {} has dtype {}, expected F32, F16 or BF16", path(), which,
                               safetensors_dtype_name(t->dtype))};
    src.type = *type;
    src.data = s.tensor(src.file_name)->data;
    file_shape = t->shape;
  }

  if (is_embed && file_shape.size() == 2 && shape.size() == 2 && file_shape[1] == shape[1]) {
    // The multimodal table may carry rows past the text vocabulary; the
    // graph keeps the first `vocab` (rows are token ids).
    if (file_shape[0] < shape[0])
      return Error{fmt::format("{}: {} has {} rows, but the model's vocab is {} (expected at least {} rows)", path(),
                               which, file_shape[0], shape[0], shape[0])};
  } else if (file_shape != shape) {
    return Error{fmt::format("{}: {} has shape {}{}, expected {}", path(), which, shape_text(file_shape), ggml_ne,
                             shape_text(shape))};
  }
  src.n_elements = product(shape);
  return src;
}

Status Gemma3Checkpoint::check(std::string_view name, const std::vector<int64_t>& shape) const {
  auto src = find(name, shape);
  if (!src) return src.error();
  return Status::success();
}

Status Gemma3Checkpoint::check_module(const Module& module) const {
  for (const Global& g : module.globals()) {
    // Derived weights (a folded adapter) are computed, not read.
    if (g.kind != GlobalKind::Weight || !g.initializer.empty()) continue;
    if (!is_static(g.type.shape))
      return Error{fmt::format("{}: the module's weight '{}' has a symbolic shape {}", path(), g.name,
                               shape_str(g.type.shape))};
    Status s = check(g.name, to_static(g.type.shape));
    if (!s) return s;
  }
  // A checkpoint with layers the module lacks belongs to another config.
  auto unused = [&](const std::string& file, std::optional<std::string> graph) -> Status {
    if (!graph || module.global(*graph)) return Status::success();
    return Error{fmt::format("{}: tensor '{}' is graph weight {}, which the module does not have (the checkpoint "
                             "has more layers than the model config)",
                             path(), file, *graph)};
  };
  if (const GgufReader* g = gguf()) {
    for (const GgufTensorInfo& t : g->tensors())
      if (Status s = unused(t.name, gemma3_graph_name_from_gguf(t.name)); !s) return s;
  } else {
    for (const SafetensorsTensorInfo& t : safetensors()->tensors()) {
      auto p = parse_hf_name(t.name, hf_prefix_);
      if (Status s = unused(t.name, p ? std::optional(graph_name(*p)) : std::nullopt); !s) return s;
    }
  }
  return Status::success();
}

Expected<HostTensor> Gemma3Checkpoint::load(std::string_view name, const std::vector<int64_t>& shape) const {
  auto src = find(name, shape);
  if (!src) return src.error();
  std::vector<float> values(static_cast<size_t>(src->n_elements));
  Status s = dequantize_row(src->type, src->data, values.data(), src->n_elements);
  if (!s)
    return Error{fmt::format("{}: tensor '{}' (graph weight {}): {}", path(), src->file_name, name,
                             s.error().message)};
  if (src->norm && gguf()) undo_gguf_norm_offset(values);
  return HostTensor::from_floats(DType::f32, shape, std::move(values));
}

Expected<std::optional<Gemma3Checkpoint::Stored>> Gemma3Checkpoint::stored(std::string_view name,
                                                                           const std::vector<int64_t>& shape) const {
  auto src = find(name, shape);
  if (!src) return src.error();
  if (src->norm && gguf()) return std::optional<Stored>();
  return std::optional<Stored>(Stored{src->type, src->data});
}

Expected<HostTensor> Gemma3Checkpoint::load(std::string_view name, const Gemma3Config& config) const {
  auto shape = gemma3_weight_shape(config, name);
  if (!shape)
    return Error{fmt::format("{}: '{}' is not a weight of model {} ({} layers)", path(), name, config.name,
                             config.layers)};
  return load(name, *shape);
}

// ---------------------------------------------------------------------------
// GGUF metadata: the config and the tokenizer

namespace {

// An integer metadata value; an error line when present with another type.
Expected<std::optional<int64_t>> read_int(const GgufReader& r, const std::string& key) {
  const GgufValue* v = r.find(key);
  if (!v) return std::optional<int64_t>();
  auto u = r.get_u64(key);
  if (!u || *u > static_cast<uint64_t>(INT64_MAX))
    return Error{fmt::format("{}: {} has type {}, expected a non-negative integer", r.path(), key,
                             gguf_value_type_name(v->type()))};
  return std::optional<int64_t>(static_cast<int64_t>(*u));
}

Expected<std::optional<double>> read_float(const GgufReader& r, const std::string& key) {
  const GgufValue* v = r.find(key);
  if (!v) return std::optional<double>();
  auto f = r.get_f32(key);
  if (!f) return Error{fmt::format("{}: {} has type {}, expected f32", r.path(), key, gguf_value_type_name(v->type()))};
  return std::optional<double>(*f);
}

}  // namespace

Expected<Gemma3Config> config_from_gguf(const GgufReader& r, const Gemma3Config& preset) {
  const std::string& path = r.path();
  const auto arch = r.get_string("general.architecture");
  if (!arch) return Error{fmt::format("{}: general.architecture is missing (expected \"gemma3\")", path)};
  if (*arch != "gemma3")
    return Error{fmt::format("{}: general.architecture is \"{}\", expected \"gemma3\"", path, *arch)};

  Gemma3Config c = preset;
  // Dimensions: the file's must equal the preset's. Absent head_count_kv,
  // key_length and value_length take llama.cpp's defaults.
  struct DimKey {
    const char* key;
    const char* field;
    int64_t Gemma3Config::*member;
    bool required;
  };
  const DimKey dims[] = {
      {"gemma3.embedding_length", "hidden", &Gemma3Config::hidden, true},
      {"gemma3.block_count", "layers", &Gemma3Config::layers, true},
      {"gemma3.feed_forward_length", "intermediate", &Gemma3Config::intermediate, true},
      {"gemma3.attention.head_count", "heads", &Gemma3Config::heads, true},
      {"gemma3.attention.head_count_kv", "kv_heads", &Gemma3Config::kv_heads, false},
      {"gemma3.attention.key_length", "head_dim", &Gemma3Config::head_dim, false},
      {"gemma3.attention.value_length", "head_dim", &Gemma3Config::head_dim, false},
  };
  for (const DimKey& d : dims) {
    auto v = read_int(r, d.key);
    if (!v) return v.error();
    const int64_t want = preset.*d.member;
    if (!*v) {
      if (d.required)
        return Error{fmt::format("{}: {} is missing (preset {} has {} {})", path, d.key, preset.name, d.field, want)};
      continue;
    }
    if (**v != want)
      return Error{fmt::format("{}: {} is {} but preset {} has {} {}", path, d.key, **v, preset.name, d.field, want)};
  }

  // What the file states beyond the dimensions is taken from it.
  auto context = read_int(r, "gemma3.context_length");
  if (!context) return context.error();
  if (*context) c.max_position = **context;
  auto window = read_int(r, "gemma3.attention.sliding_window");
  if (!window) return window.error();
  if (*window) c.sliding_window = **window;
  struct Real {
    const char* key;
    double Gemma3Config::*member;
  };
  const Real reals[] = {
      {"gemma3.rope.freq_base", &Gemma3Config::rope_global_base},
      {"gemma3.rope.freq_base_swa", &Gemma3Config::rope_local_base},
      {"gemma3.attention.layer_norm_rms_epsilon", &Gemma3Config::rms_eps},
  };
  for (const Real& x : reals) {
    auto v = read_float(r, x.key);
    if (!v) return v.error();
    if (*v) c.*x.member = **v;
  }
  const auto scaling = r.get_string("gemma3.rope.scaling.type");
  if (scaling && *scaling != "linear" && *scaling != "none")
    return Error{fmt::format("{}: gemma3.rope.scaling.type is \"{}\", expected \"linear\" or \"none\"", path,
                             *scaling)};
  auto factor = read_float(r, "gemma3.rope.scaling.factor");
  if (!factor) return factor.error();
  c.rope_global_scale = (*factor && (!scaling || *scaling == "linear")) ? **factor : 1.0;
  for (const char* key : {"gemma3.final_logit_softcapping", "gemma3.attn_logit_softcapping"}) {
    auto cap = read_float(r, key);
    if (!cap) return cap.error();
    if (*cap && **cap != 0)
      return Error{fmt::format("{}: {} is {}, but Gemma-3 has no soft-capping and the graph applies none", path, key,
                               **cap)};
  }
  c.max_context = std::min(c.max_context, c.max_position);

  if (const GgufTensorInfo* embd = r.find_tensor("token_embd.weight")) {
    const std::vector<int64_t> shape = embd->shape();
    if (shape.size() != 2 || shape[1] != c.hidden)
      return Error{fmt::format("{}: tensor 'token_embd.weight' (graph weight embed) has shape {}, expected [>= {}, {}]",
                               path, shape_text(shape), c.vocab, c.hidden)};
    if (shape[0] < c.vocab)
      return Error{fmt::format("{}: tensor 'token_embd.weight' (graph weight embed) has {} rows but preset {} has "
                               "vocab {} (expected at least {} rows)",
                               path, shape[0], preset.name, c.vocab, c.vocab)};
  }
  Status s = c.validate();
  if (!s) return Error{fmt::format("{}: {}", path, s.error().message)};
  return c;
}

Expected<Gemma3Config> config_from_gguf(const GgufReader& r, std::string_view preset_name) {
  auto preset = gemma3_preset(preset_name);
  if (!preset) return Error{fmt::format("{}: {}", r.path(), preset.error().message)};
  return config_from_gguf(r, *preset);
}

Expected<Tokenizer> tokenizer_from_gguf(const GgufReader& r) {
  const std::string& path = r.path();
  if (auto model = r.get_string("tokenizer.ggml.model"); model && *model != "llama")
    return Error{fmt::format("{}: tokenizer.ggml.model is \"{}\"; only SentencePiece vocabularies (\"llama\") are "
                             "supported",
                             path, *model)};
  auto missing = [&](const char* key, const char* what) {
    return Error{fmt::format("{}: {} is missing or not {}", path, key, what)};
  };
  auto pieces = r.get_string_array("tokenizer.ggml.tokens");
  if (!pieces) return missing("tokenizer.ggml.tokens", "an array of strings");
  auto scores = r.get_f32_array("tokenizer.ggml.scores");
  if (!scores) return missing("tokenizer.ggml.scores", "an array of f32");
  auto types = r.get_i32_array("tokenizer.ggml.token_type");
  if (!types) return missing("tokenizer.ggml.token_type", "an array of integers");
  if (scores->size() != pieces->size() || types->size() != pieces->size())
    return Error{fmt::format("{}: tokenizer.ggml.tokens has {} entries, but tokenizer.ggml.scores has {} and "
                             "tokenizer.ggml.token_type {} (expected one per token)",
                             path, pieces->size(), scores->size(), types->size())};
  SpecialTokenIds special;
  struct Id {
    const char* key;
    int32_t SpecialTokenIds::*member;
  };
  for (const Id& id : {Id{"tokenizer.ggml.bos_token_id", &SpecialTokenIds::bos},
                       Id{"tokenizer.ggml.eos_token_id", &SpecialTokenIds::eos},
                       Id{"tokenizer.ggml.unknown_token_id", &SpecialTokenIds::unk},
                       Id{"tokenizer.ggml.padding_token_id", &SpecialTokenIds::pad}}) {
    auto v = read_int(r, id.key);
    if (!v) return v.error();
    if (!*v) continue;
    if (**v >= static_cast<int64_t>(pieces->size()))
      return Error{fmt::format("{}: {} is {}, outside the vocabulary of {} pieces", path, id.key, **v,
                               pieces->size())};
    special.*id.member = static_cast<int32_t>(**v);
  }
  auto tok = Tokenizer::from_vocab(*pieces, *scores, *types, special);
  if (!tok) return Error{fmt::format("{}: {}", path, tok.error().message)};
  return tok;
}

Expected<Gemma3WeightLoader> gemma3_weight_loader(std::shared_ptr<const Gemma3Checkpoint> checkpoint,
                                                  const Module& module) {
  if (!checkpoint) return Error{"gemma3_weight_loader: no checkpoint"};
  Status s = checkpoint->check_module(module);
  if (!s) return s.error();
  return Gemma3WeightLoader([checkpoint](const Global& g) -> Expected<HostTensor> {
    if (!is_static(g.type.shape) || !is_floating(g.type.dtype))
      return Error{fmt::format("{}: the module's weight '{}' is {}, expected a floating-point tensor of static shape",
                               checkpoint->path(), g.name, g.type.str())};
    auto t = checkpoint->load(g.name, to_static(g.type.shape));
    if (!t || g.type.dtype == DType::f32) return t;
    return HostTensor::from_floats(g.type.dtype, t->shape(), std::move(t->floats()));
  });
}

}  // namespace graphc
