// Binds Gemma-3 checkpoints to the graph's weights (graphs/gemma3.h).
//
// A checkpoint is a GGUF file (llama.cpp's converter and llama-quantize) or a
// Hugging Face safetensors file; which one is decided by the file's content,
// not its name. Each graph weight has one name in each format, given by one
// table (gemma3_weight_table()):
//
//   graph              GGUF                          Hugging Face (under a prefix)
//   embed              token_embd.weight             embed_tokens.weight
//   final_norm         output_norm.weight            norm.weight
//   layer.N.attn_norm  blk.N.attn_norm.weight        layers.N.input_layernorm.weight
//   ...                blk.N.ffn_norm.weight  is the PRE-FFN norm (layer.N.pre_ffn_norm)
//
// Hugging Face names sit under "model." (text-only Gemma3ForCausalLM),
// "language_model.model." (multimodal checkpoints as published) or
// "model.language_model." (multimodal, saved by recent transformers).
//
// Loading gives f32 tensors in the graph's layout (Hugging Face [out, in],
// which is also GGUF's byte order), dequantizing any ggml type and converting
// BF16/F16/F32 safetensors. Norm weights come out zero-centred (the graph
// computes the gain 1 + w): GGUF stores 1 + w, and loading undoes that in one
// place (see gemma3_checkpoint.cpp, undo_gguf_norm_offset). An embedding with
// more rows than the config's vocab (the 262 208-row multimodal table) keeps
// its first `vocab` rows; fewer rows is an error.
//
// Every error is one line naming the file, the tensor (in the file's naming
// and the graph's) and what was expected.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "graphs/gemma3_config.h"
#include "ir/module.h"
#include "ir/status.h"
#include "runtime/gguf_reader.h"
#include "runtime/host_tensor.h"
#include "runtime/safetensors_reader.h"
#include "runtime/tokenizer.h"

namespace graphc {

// One row of the name table. Per-layer rows name the part after
// "layer.N." / "blk.N." / "<prefix>layers.N."; global rows name the whole
// graph and GGUF names and the part after the Hugging Face prefix.
struct Gemma3WeightNames {
  const char* graph;
  const char* gguf;
  const char* hf;
  bool per_layer;
  bool norm;  // an RMSNorm gain, stored zero-centred in the graph
};
std::span<const Gemma3WeightNames> gemma3_weight_table();

// The Hugging Face prefixes a Gemma-3 text model's tensors may sit under,
// in the order they are tried.
std::span<const std::string_view> gemma3_hf_prefixes();

// Graph name <-> file name. nullopt when the name is not a Gemma-3 weight.
std::optional<std::string> gemma3_gguf_name(std::string_view graph_name);
std::optional<std::string> gemma3_hf_name(std::string_view graph_name, std::string_view prefix = "model.");
std::optional<std::string> gemma3_graph_name_from_gguf(std::string_view gguf_name);
// Accepts any of gemma3_hf_prefixes().
std::optional<std::string> gemma3_graph_name_from_hf(std::string_view hf_name);
bool gemma3_is_norm_weight(std::string_view graph_name);
// The shape the graph declares for a weight under `config`; nullopt for an
// unknown name or a layer index out of range.
std::optional<std::vector<int64_t>> gemma3_weight_shape(const Gemma3Config& config, std::string_view graph_name);

enum class CheckpointFormat { gguf, safetensors };
std::string_view checkpoint_format_name(CheckpointFormat f);

// A memory-mapped Gemma-3 checkpoint. Tensor data is read from the mapping
// when a weight is loaded; nothing is copied at open.
class Gemma3Checkpoint {
 public:
  // Detects the format by magic: "GGUF", or a safetensors header (an 8-byte
  // little-endian length followed by '{'). When the content is neither, the
  // error is the one of the reader the file name suggests (*.gguf: GGUF's
  // bad-magic message) or one naming both formats.
  static Expected<Gemma3Checkpoint> open(const std::string& path);
  static Gemma3Checkpoint from_gguf(GgufReader reader);
  static Gemma3Checkpoint from_safetensors(SafetensorsReader reader);

  const std::string& path() const;
  CheckpointFormat format() const;
  const GgufReader* gguf() const;                // null unless format() is gguf
  const SafetensorsReader* safetensors() const;  // null unless format() is safetensors
  // The Hugging Face prefix this file uses ("model.", ...); empty for GGUF.
  const std::string& hf_prefix() const { return hf_prefix_; }

  // The name a graph weight has in this file; nullopt for a non-Gemma-3 name.
  std::optional<std::string> file_name(std::string_view graph_name) const;

  // Checks that the weight exists with a convertible dtype and the shape
  // `shape` (embed: at least shape[0] rows), without reading its data.
  Status check(std::string_view graph_name, const std::vector<int64_t>& shape) const;
  // Checks every weight global of `module`.
  Status check_module(const Module& module) const;

  // A weight's bytes as the file stores them, for a backend that computes on
  // them in place (no copy): rows of its last dim in `type`'s layout, the
  // first rows of the table for the embedding. nullopt when the file's values
  // are not the graph's (GGUF stores norm weights with +1 folded in).
  struct Stored {
    GgmlType type = GgmlType::F32;
    const uint8_t* data = nullptr;
  };
  Expected<std::optional<Stored>> stored(std::string_view graph_name, const std::vector<int64_t>& shape) const;

  // The weight as f32 of `shape` (what the graph declares for it).
  Expected<HostTensor> load(std::string_view graph_name, const std::vector<int64_t>& shape) const;
  // The same, with the shape gemma3_weight_shape(config, graph_name).
  Expected<HostTensor> load(std::string_view graph_name, const Gemma3Config& config) const;

 private:
  struct Source;
  Gemma3Checkpoint() = default;
  Expected<Source> find(std::string_view graph_name, const std::vector<int64_t>& shape) const;

  std::variant<std::monostate, GgufReader, SafetensorsReader> reader_;
  std::string hf_prefix_;
};

// The model dimensions a GGUF file states (gemma3.* metadata), checked
// against a preset: embedding_length, block_count, feed_forward_length,
// attention.head_count, head_count_kv, key_length/value_length must equal the
// preset's (the first difference is the error, e.g. "model.gguf:
// gemma3.embedding_length is 1152 but preset gemma3-270m has hidden 640"),
// and token_embd.weight, when present, must have at least the preset's vocab
// rows. What the file states beyond that is taken from it: context_length
// (max_position; max_context is lowered to fit), attention.sliding_window,
// rope.freq_base (global base), rope.scaling.factor (global linear scale, 1
// when absent) and attention.layer_norm_rms_epsilon. What GGUF does not store
// (the 5:1 pattern, the local RoPE base, query_pre_attn_scalar, vocab) comes
// from the preset.
Expected<Gemma3Config> config_from_gguf(const GgufReader& reader, const Gemma3Config& preset);
Expected<Gemma3Config> config_from_gguf(const GgufReader& reader, std::string_view preset_name);

// The tokenizer a GGUF file embeds (tokenizer.ggml.tokens / scores /
// token_type, SentencePiece vocabularies only), with the special ids from
// tokenizer.ggml.{bos,eos,unknown,padding}_token_id (Gemma's defaults when
// absent).
Expected<Tokenizer> tokenizer_from_gguf(const GgufReader& reader);

// A loader for ReferenceInterpreter::set_weight_loader (the same function
// type, ReferenceInterpreter::WeightLoader) that reads `module`'s weights from
// `checkpoint`. Every weight of the module is checked first (name, dtype,
// shape), so a checkpoint that does not fit fails here with one clear line
// instead of in the middle of a run. Weights are produced in the dtype the
// module declares for them.
using Gemma3WeightLoader = std::function<Expected<HostTensor>(const Global&)>;
Expected<Gemma3WeightLoader> gemma3_weight_loader(std::shared_ptr<const Gemma3Checkpoint> checkpoint,
                                                  const Module& module);

}  // namespace graphc
