// Writes small GGUF v3 files: metadata plus tensors stored as F32, F16, BF16
// or Q8_0 (quantized here), or as raw blocks of any ggml type. Used by tests
// to build tiny checkpoints and by tools that save quantized weights. The
// file is written to a temporary name and renamed, never left half-written.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ir/status.h"
#include "runtime/ggml_type.h"
#include "runtime/gguf_reader.h"

namespace graphc {

class GgufWriter {
 public:
  // Metadata, written in the order added; setting a key again replaces it.
  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_f32(const std::string& key, float v);
  void set_bool(const std::string& key, bool v);
  void set_string(const std::string& key, std::string v);
  void set_string_array(const std::string& key, std::vector<std::string> v);
  void set_f32_array(const std::string& key, std::vector<float> v);
  void set_i32_array(const std::string& key, std::vector<int32_t> v);
  void set_value(const std::string& key, GgufValue v);

  // Pads tensor data to this many bytes (a power of two) and records it as
  // general.alignment; without a call the padding is GGUF's default of 32.
  Status set_alignment(uint32_t alignment);

  // Adds a tensor of row-major `shape` (Hugging Face order) from floats,
  // converting to `type`: F32, F16, BF16 or Q8_0 (rows must be whole blocks).
  Status add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> shape, std::span<const float> values);
  // Adds already-encoded data; `data` must be exactly the tensor's byte size.
  Status add_raw_tensor(const std::string& name, GgmlType type, std::vector<int64_t> shape,
                        std::span<const uint8_t> data);

  // The complete file image.
  std::vector<uint8_t> serialize() const;
  Status write(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    GgmlType type;
    std::vector<int64_t> ne;  // ggml order
    std::vector<uint8_t> data;
  };

  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<Tensor> tensors_;
  uint32_t alignment_ = 32;
};

// Quantizes n floats (a multiple of 32) to Q8_0 blocks the standard way:
// per block d = max|x| / 127, q = round(x / d), d stored as f16.
std::vector<uint8_t> quantize_q8_0(std::span<const float> values);

}  // namespace graphc
