// Gemma-3 model dimensions: the published presets and explicit (tiny) ones.
// Facts a GGUF does not store (the 5 local : 1 global pattern, the local RoPE
// base, the attention scale) come from here, as other readers do.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ir/status.h"

namespace YAML {
class Node;
}

namespace graphc {

struct Gemma3Config {
  std::string name = "custom";
  int64_t vocab = 262144;
  int64_t hidden = 640;         // D
  int64_t intermediate = 2048;  // F
  int64_t layers = 18;
  int64_t heads = 4;            // H
  int64_t kv_heads = 1;         // K
  int64_t head_dim = 256;       // hd
  double query_pre_attn_scalar = 256;  // attention scale = this^-0.5
  int64_t sliding_window = 512;        // W: keys q-W+1 .. q on local layers
  int64_t global_every = 6;            // layer i is global iff (i + 1) % this == 0
  double rope_local_base = 10000.0;
  double rope_global_base = 1000000.0;
  double rope_global_scale = 1.0;      // linear: positions / scale on global layers
  double rms_eps = 1e-6;
  int64_t max_position = 32768;        // the model's trained context
  int64_t max_context = 4096;          // KV cache length of global layers

  bool is_global_layer(int64_t i) const { return (i + 1) % global_every == 0; }
  double attention_scale() const;
  // The local layers' KV ring: never longer than the context it can serve.
  int64_t local_cache_length() const;
  // Checks the dimensions fit together; the message names the bad field.
  Status validate() const;
};

// The `model:` section of an experiment: a preset, explicit dimensions, or a
// preset with some dimensions overridden (tests use tiny ones):
//   model: {preset: gemma3-270m, max_context: 2048}
//   model: {hidden: 16, intermediate: 24, layers: 2, heads: 2, kv_heads: 1, head_dim: 8, vocab: 48}
// Errors name file:line:column, the key and what is allowed.
Expected<Gemma3Config> gemma3_config_from_yaml(const std::string& yaml_text, const std::string& file);
// `other_keys` are keys of the model section read elsewhere (e.g. weights).
Expected<Gemma3Config> gemma3_config_from_yaml(const YAML::Node& model, const std::string& file,
                                               const std::vector<std::string>& other_keys = {});

// gemma3-270m, gemma3-1b, gemma3-4b, gemma3-12b, gemma3-27b.
Expected<Gemma3Config> gemma3_preset(std::string_view name);
std::vector<std::string> gemma3_preset_names();

}  // namespace graphc
