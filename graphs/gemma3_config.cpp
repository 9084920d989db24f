#include "graphs/gemma3_config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "runtime/yaml_diagnostics.h"

#include <algorithm>
#include <cmath>

namespace graphc {
namespace {

// Published dimensions (reference/gemma3.md §1.1, from the HF and JAX configs).
Gemma3Config preset(const char* name, int64_t hidden, int64_t intermediate, int64_t layers, int64_t heads,
                    int64_t kv_heads, int64_t head_dim, double scalar, int64_t window, double global_scale,
                    int64_t max_position) {
  Gemma3Config c;
  c.name = name;
  c.hidden = hidden;
  c.intermediate = intermediate;
  c.layers = layers;
  c.heads = heads;
  c.kv_heads = kv_heads;
  c.head_dim = head_dim;
  c.query_pre_attn_scalar = scalar;
  c.sliding_window = window;
  c.rope_global_scale = global_scale;
  c.max_position = max_position;
  return c;
}

const std::vector<Gemma3Config>& presets() {
  static const std::vector<Gemma3Config> all = {
      preset("gemma3-270m", 640, 2048, 18, 4, 1, 256, 256, 512, 1.0, 32768),
      preset("gemma3-1b", 1152, 6912, 26, 4, 1, 256, 256, 512, 1.0, 32768),
      preset("gemma3-4b", 2560, 10240, 34, 8, 4, 256, 256, 1024, 8.0, 131072),
      preset("gemma3-12b", 3840, 15360, 48, 16, 8, 256, 256, 1024, 8.0, 131072),
      // 27B scales attention by (D/H)^-0.5 = 168^-0.5, not head_dim^-0.5.
      preset("gemma3-27b", 5376, 21504, 62, 32, 16, 128, 168, 1024, 8.0, 131072),
  };
  return all;
}

}  // namespace

double Gemma3Config::attention_scale() const { return 1.0 / std::sqrt(query_pre_attn_scalar); }

int64_t Gemma3Config::local_cache_length() const { return std::min(sliding_window, max_context); }

Status Gemma3Config::validate() const {
  auto positive = [&](const char* field, int64_t v) -> Status {
    if (v <= 0) return Error{fmt::format("model.{} must be positive, got {}", field, v)};
    return Status::success();
  };
  for (auto [field, v] : {std::pair{"vocab", vocab}, {"hidden", hidden}, {"intermediate", intermediate},
                          {"layers", layers}, {"heads", heads}, {"kv_heads", kv_heads}, {"head_dim", head_dim},
                          {"sliding_window", sliding_window}, {"global_every", global_every},
                          {"max_context", max_context}}) {
    Status s = positive(field, v);
    if (!s.ok()) return s;
  }
  if (heads % kv_heads != 0)
    return Error{fmt::format("model.heads ({}) must be a multiple of model.kv_heads ({})", heads, kv_heads)};
  if (head_dim % 2 != 0) return Error{fmt::format("model.head_dim must be even for RoPE, got {}", head_dim)};
  if (max_context > max_position)
    return Error{fmt::format("model.max_context ({}) exceeds the model's max_position ({})", max_context,
                             max_position)};
  if (query_pre_attn_scalar <= 0 || rope_local_base <= 0 || rope_global_base <= 0 || rope_global_scale <= 0 ||
      rms_eps <= 0)
    return Error{"model: query_pre_attn_scalar, rope bases, rope_global_scale and rms_eps must be positive"};
  return Status::success();
}

Expected<Gemma3Config> gemma3_preset(std::string_view name) {
  for (const Gemma3Config& c : presets())
    if (c.name == name) return c;
  std::string known;
  for (const Gemma3Config& c : presets()) known += (known.empty() ? "" : ", ") + c.name;
  return Error{fmt::format("unknown model preset '{}' (known: {})", name, known)};
}

namespace {

struct Field {
  const char* key;
  int64_t Gemma3Config::*integer = nullptr;
  double Gemma3Config::*real = nullptr;
};

const Field kFields[] = {
    {"vocab", &Gemma3Config::vocab},
    {"hidden", &Gemma3Config::hidden},
    {"intermediate", &Gemma3Config::intermediate},
    {"layers", &Gemma3Config::layers},
    {"heads", &Gemma3Config::heads},
    {"kv_heads", &Gemma3Config::kv_heads},
    {"head_dim", &Gemma3Config::head_dim},
    {"sliding_window", &Gemma3Config::sliding_window},
    {"global_every", &Gemma3Config::global_every},
    {"max_position", &Gemma3Config::max_position},
    {"max_context", &Gemma3Config::max_context},
    {"query_pre_attn_scalar", nullptr, &Gemma3Config::query_pre_attn_scalar},
    {"rope_local_base", nullptr, &Gemma3Config::rope_local_base},
    {"rope_global_base", nullptr, &Gemma3Config::rope_global_base},
    {"rope_global_scale", nullptr, &Gemma3Config::rope_global_scale},
    {"rms_eps", nullptr, &Gemma3Config::rms_eps},
};

}  // namespace

Expected<Gemma3Config> gemma3_config_from_yaml(const std::string& yaml_text, const std::string& file) {
  try {
    return gemma3_config_from_yaml(YAML::Load(yaml_text), file);
  } catch (const YAML::Exception& e) {
    return Error{fmt::format("{}:{}:{}: {}", file, e.mark.line + 1, e.mark.column + 1, e.msg)};
  }
}

Expected<Gemma3Config> gemma3_config_from_yaml(const YAML::Node& root, const std::string& file,
                                               const std::vector<std::string>& other_keys) {
  if (!root.IsMap()) return Error{fmt::format("{}: model: expected a mapping of keys to values", yaml_where(file, root))};
  Gemma3Config c;
  if (const YAML::Node p = root["preset"]) {
    if (!p.IsScalar()) return Error{fmt::format("{}: model.preset: expected a preset name", yaml_where(file, p))};
    Expected<Gemma3Config> preset = gemma3_preset(p.as<std::string>());
    if (!preset.ok()) return Error{fmt::format("{}: model.preset: {}", yaml_where(file, p), preset.error().message)};
    c = *preset;
  }
  std::vector<std::string> allowed{"preset"};
  allowed.insert(allowed.end(), other_keys.begin(), other_keys.end());
  for (const Field& f : kFields) allowed.push_back(f.key);
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    if (key == "preset" || std::find(other_keys.begin(), other_keys.end(), key) != other_keys.end()) continue;
    const Field* field = nullptr;
    for (const Field& f : kFields)
      if (key == f.key) field = &f;
    if (!field)
      return Error{fmt::format("{}: unknown key 'model.{}'{} (allowed: {})", yaml_where(file, kv.first), key,
                               did_you_mean(key, allowed), join_keys(allowed))};
    try {
      if (field->integer) c.*(field->integer) = kv.second.as<int64_t>();
      else c.*(field->real) = kv.second.as<double>();
    } catch (const YAML::Exception&) {
      return Error{fmt::format("{}: model.{}: expected {}, got '{}'", yaml_where(file, kv.second), key,
                               field->integer ? "an integer" : "a number",
                               kv.second.IsScalar() ? kv.second.as<std::string>() : "a non-scalar")};
    }
  }
  if (!root["preset"]) c.name = "custom";
  Status s = c.validate();
  if (!s.ok()) return Error{fmt::format("{}: {}", yaml_where(file, root), s.error().message)};
  return c;
}

std::vector<std::string> gemma3_preset_names() {
  std::vector<std::string> out;
  for (const Gemma3Config& c : presets()) out.push_back(c.name);
  return out;
}

}  // namespace graphc
