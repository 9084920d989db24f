// LoRA adapters on disk in Hugging Face PEFT's format, so an adapter trained
// here loads in PEFT (PeftModel.from_pretrained) and one trained there loads
// here: a directory with
//   adapter_model.safetensors   base_model.model.<HF module>.lora_A.weight [r, in]
//                               base_model.model.<HF module>.lora_B.weight [out, r]
//   adapter_config.json         peft_type LORA, r, lora_alpha, target_modules, ...
// where <HF module> is the weight's Hugging Face name without ".weight"
// (model.layers.0.self_attn.q_proj). In the graph the factors are the state
// globals @W.lora_a / @W.lora_b (passes/lora_common.h), same layouts.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "ir/status.h"
#include "runtime/host_tensor.h"

namespace graphc {

struct LoraAdapter {
  int64_t rank = 0;
  double alpha = 0;
  // (graph state name, value): layer.0.q_proj.lora_a, layer.0.q_proj.lora_b, ...
  std::vector<std::pair<std::string, HostTensor>> factors;
};

// Writes the directory (created if needed); each file goes to a temporary
// name and is renamed into place.
Status write_peft_adapter(const std::string& dir, const LoraAdapter& adapter);

// Reads a PEFT LoRA adapter directory; names not of a Gemma-3 projection, or
// a config that is not plain LoRA, are errors naming the file and the entry.
Expected<LoraAdapter> read_peft_adapter(const std::string& dir);

// PEFT's tensor name for a graph state name (layer.3.up_proj.lora_b ->
// base_model.model.model.layers.3.mlp.up_proj.lora_B.weight), and back.
Expected<std::string> peft_tensor_name(const std::string& graph_state_name);
Expected<std::string> graph_state_name_from_peft(const std::string& peft_name);

}  // namespace graphc
