// Writes safetensors files from float data, stored as F32, BF16 or F16: used
// by tests and to save LoRA adapters in the format other tools load. Tensors
// are laid out in the order added; the file is written to a temporary name
// and renamed, never left half-written.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "ir/status.h"
#include "runtime/safetensors_reader.h"

namespace graphc {

class SafetensorsWriter {
 public:
  // Entries of the "__metadata__" string map (valid UTF-8, as JSON requires).
  Status set_metadata(const std::string& key, std::string value);

  // Adds a row-major tensor; `values` must hold product(shape) floats and the
  // name must be valid UTF-8.
  Status add_tensor(const std::string& name, SafetensorsDType dtype, std::vector<int64_t> shape,
                    std::span<const float> values);

  std::vector<uint8_t> serialize() const;
  Status write(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    SafetensorsDType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> data;
  };
  std::map<std::string, std::string> metadata_;
  std::vector<Tensor> tensors_;
};

}  // namespace graphc
