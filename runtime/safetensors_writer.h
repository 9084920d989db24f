// Writes safetensors files from float data, stored as F32, BF16 or F16: used
// by tests and to save LoRA adapters in the format other tools load. Tensors
// are laid out in the order added; the file is written to a temporary name
// and renamed, never left half-written.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "ir/status.h"
#include "runtime/mapped_file.h"
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
  // A tensor whose values `fetch` produces when the file is written, one
  // tensor at a time: what large files (training checkpoints) use, so only
  // one tensor is ever held twice. fetch must return product(shape) floats.
  Status add_tensor_lazy(const std::string& name, SafetensorsDType dtype, std::vector<int64_t> shape,
                         std::function<std::vector<float>()> fetch);

  std::vector<uint8_t> serialize() const;
  // Written piece by piece (lazy tensors fetched one at a time), to a
  // temporary file that is fsynced and renamed.
  Status write(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    SafetensorsDType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> data;                  // encoded, or empty with fetch set
    std::function<std::vector<float>()> fetch;  // lazy tensors
    uint64_t bytes = 0;                          // encoded size
  };
  Status check_new(const std::string& name, SafetensorsDType dtype, const std::vector<int64_t>& shape) const;
  std::string header() const;
  Status write_file_pieces(const ByteSink& sink) const;
  std::map<std::string, std::string> metadata_;
  std::vector<Tensor> tensors_;
};

}  // namespace graphc
