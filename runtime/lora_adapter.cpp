#include "runtime/lora_adapter.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "runtime/gemma3_checkpoint.h"
#include "runtime/mapped_file.h"
#include "runtime/safetensors_reader.h"
#include "runtime/safetensors_writer.h"

namespace graphc {
namespace {

constexpr std::string_view kPeftPrefix = "base_model.model.";
constexpr std::string_view kWeightSuffix = ".weight";

struct Split {
  std::string weight;  // graph weight name
  bool is_a = false;
};

Expected<Split> split_state_name(const std::string& name) {
  for (const auto& [suffix, is_a] : {std::pair<std::string, bool>{".lora_a", true}, {".lora_b", false}})
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      return Split{name.substr(0, name.size() - suffix.size()), is_a};
  return Error{"'" + name + "' is not a LoRA factor (expected <weight>.lora_a or <weight>.lora_b)"};
}

}  // namespace

Expected<std::string> peft_tensor_name(const std::string& graph_state_name) {
  auto split = split_state_name(graph_state_name);
  if (!split.ok()) return split.error();
  std::optional<std::string> hf = gemma3_hf_name(split->weight);
  if (!hf || hf->size() <= kWeightSuffix.size()) return Error{"'" + split->weight + "' is not a Gemma-3 weight"};
  const std::string module = hf->substr(0, hf->size() - kWeightSuffix.size());
  return fmt::format("{}{}.{}.weight", kPeftPrefix, module, split->is_a ? "lora_A" : "lora_B");
}

Expected<std::string> graph_state_name_from_peft(const std::string& peft_name) {
  std::string rest = peft_name;
  if (rest.compare(0, kPeftPrefix.size(), kPeftPrefix) == 0) rest = rest.substr(kPeftPrefix.size());
  for (const auto& [marker, suffix] : {std::pair<std::string, std::string>{".lora_A.weight", ".lora_a"},
                                       {".lora_B.weight", ".lora_b"}}) {
    if (rest.size() <= marker.size() || rest.compare(rest.size() - marker.size(), marker.size(), marker) != 0)
      continue;
    const std::string hf = rest.substr(0, rest.size() - marker.size()) + std::string(kWeightSuffix);
    std::optional<std::string> graph = gemma3_graph_name_from_hf(hf);
    if (!graph) return Error{"'" + peft_name + "' does not name a Gemma-3 projection"};
    return *graph + suffix;
  }
  return Error{"'" + peft_name + "' is not a LoRA factor (expected ...lora_A.weight or ...lora_B.weight)"};
}

Status write_peft_adapter(const std::string& dir, const LoraAdapter& adapter) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error{fmt::format("{}: cannot create the adapter directory: {}", dir, ec.message())};
  SafetensorsWriter w;
  std::set<std::string> modules;
  for (const auto& [name, t] : adapter.factors) {
    auto peft = peft_tensor_name(name);
    if (!peft.ok()) return peft.error();
    if (!t.has_float_storage()) return Error{name + ": an adapter factor must be a float tensor"};
    if (Status s = w.add_tensor(*peft, SafetensorsDType::F32, t.shape(), t.floats()); !s.ok()) return s;
    const std::string weight = split_state_name(name)->weight;
    modules.insert(weight.substr(weight.rfind('.') + 1));  // q_proj, ...
  }
  if (Status s = w.write(dir + "/adapter_model.safetensors"); !s.ok()) return s;
  nlohmann::json config = {
      {"peft_type", "LORA"},
      {"task_type", "CAUSAL_LM"},
      {"r", adapter.rank},
      {"lora_alpha", adapter.alpha},
      {"lora_dropout", 0.0},
      {"target_modules", std::vector<std::string>(modules.begin(), modules.end())},
      {"bias", "none"},
      {"fan_in_fan_out", false},
      {"inference_mode", true},
      {"init_lora_weights", true},
      {"use_rslora", false},
      {"use_dora", false},
      {"modules_to_save", nullptr},
      {"base_model_name_or_path", "google/gemma-3-270m"},
  };
  const std::string text = config.dump(2) + "\n";
  return write_file_atomically(dir + "/adapter_config.json", std::string_view(text));
}

Expected<LoraAdapter> read_peft_adapter(const std::string& dir) {
  const std::string config_path = dir + "/adapter_config.json";
  std::ifstream in(config_path);
  if (!in) return Error{config_path + ": cannot open the adapter config"};
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    return Error{config_path + ": not valid JSON: " + e.what()};
  }
  LoraAdapter adapter;
  try {
    if (config.value("peft_type", "") != "LORA")
      return Error{config_path + ": peft_type: expected \"LORA\", got " + config.value("peft_type", std::string("none"))};
    if (config.value("use_dora", false) || config.value("use_rslora", false))
      return Error{config_path + ": DoRA and rsLoRA adapters are not supported (use_dora / use_rslora is true)"};
    // Per-module ranks or scales, a layer subset or a bias in the adapter
    // would be read as a plain LoRA and silently give other outputs.
    for (const char* key : {"rank_pattern", "alpha_pattern"})
      if (config.contains(key) && !config[key].is_null() && !config[key].empty())
        return Error{fmt::format("{}: {} is set; adapters with per-module ranks or scales are not supported",
                                 config_path, key)};
    if (config.contains("layers_to_transform") && !config["layers_to_transform"].is_null())
      return Error{config_path + ": layers_to_transform is set; adapters on a subset of layers are not supported"};
    if (config.value("lora_bias", false) || config.value("bias", std::string("none")) != "none")
      return Error{config_path + ": the adapter trains biases (lora_bias / bias); Gemma-3's projections have none"};
    adapter.rank = config.at("r").get<int64_t>();
    adapter.alpha = config.at("lora_alpha").get<double>();
  } catch (const std::exception& e) {
    return Error{config_path + ": " + e.what()};
  }
  const std::string tensors_path = dir + "/adapter_model.safetensors";
  auto reader = SafetensorsReader::open(tensors_path);
  if (!reader.ok()) return reader.error();
  for (const SafetensorsTensorInfo& info : reader->tensors()) {
    auto name = graph_state_name_from_peft(info.name);
    if (!name.ok()) return Error{tensors_path + ": " + name.error().message};
    auto values = reader->to_f32(info.name);
    if (!values.ok()) return Error{tensors_path + ": " + values.error().message};
    adapter.factors.emplace_back(*name, HostTensor::from_floats(DType::f32, info.shape, std::move(*values)));
  }
  return adapter;
}

}  // namespace graphc
