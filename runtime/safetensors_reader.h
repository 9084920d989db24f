// Reads Hugging Face safetensors files (gemma3.md §3.1): an 8-byte
// little-endian header length, a JSON header mapping tensor names to dtype,
// shape and byte range, then the data buffer, used in place from a read-only
// mapping.
//
// The header is validated when the file is opened, as the reference
// implementation does: the ranges must match shape x dtype size and tile the
// data buffer exactly (no overlaps, no holes). Errors name the file, the
// tensor and what was expected.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ir/status.h"

namespace graphc {

enum class SafetensorsDType { F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL, F8_E4M3, F8_E5M2 };

// "F32", "BF16", ... as in the header.
std::string_view safetensors_dtype_name(SafetensorsDType t);
std::optional<SafetensorsDType> parse_safetensors_dtype(std::string_view name);
int safetensors_dtype_bytes(SafetensorsDType t);

struct SafetensorsTensorInfo {
  std::string name;
  SafetensorsDType dtype = SafetensorsDType::F32;
  std::vector<int64_t> shape;  // row-major
  uint64_t begin = 0, end = 0; // byte range within the data buffer
  int64_t n_elements = 0;
};

// A tensor's bytes inside the reader's mapping. `data` stays valid while the
// reader or a keep_alive() handle lives; `name` points into the reader.
// `data` is only byte-aligned (the header length is arbitrary), so read
// elements with memcpy.
struct SafetensorsTensorView {
  std::string_view name;
  SafetensorsDType dtype = SafetensorsDType::F32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  uint64_t n_bytes = 0;
  int64_t n_elements = 0;
};

class SafetensorsReader {
 public:
  static Expected<SafetensorsReader> open(const std::string& path);
  // Parses a file image held in memory; `name` stands for the path in errors.
  static Expected<SafetensorsReader> open_memory(std::vector<uint8_t> bytes, std::string name = "<memory>");

  const std::string& path() const { return path_; }
  uint64_t data_offset() const { return data_offset_; }  // start of the data buffer in the file
  std::shared_ptr<const void> keep_alive() const { return storage_; }

  // The optional "__metadata__" string map.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Tensors in data order.
  const std::vector<SafetensorsTensorInfo>& tensors() const { return tensors_; }
  const SafetensorsTensorInfo* find_tensor(std::string_view name) const;
  Expected<SafetensorsTensorView> tensor(std::string_view name) const;

  // The tensor converted to float (F32, F16 and BF16 tensors only).
  Expected<std::vector<float>> to_f32(std::string_view name) const;

 private:
  SafetensorsReader() = default;
  static Expected<SafetensorsReader> parse(std::shared_ptr<const void> storage, std::span<const uint8_t> bytes,
                                           std::string path);
  friend class SafetensorsParser;

  std::string path_;
  std::shared_ptr<const void> storage_;
  std::span<const uint8_t> bytes_;
  uint64_t data_offset_ = 0;
  std::map<std::string, std::string> metadata_;
  std::vector<SafetensorsTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> index_;
};

}  // namespace graphc
