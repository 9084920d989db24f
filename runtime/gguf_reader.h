// Reads GGUF checkpoints (versions 2 and 3, little-endian; layout in
// gemma3.md §3.2): the metadata key/values, the tensor infos and views of
// the tensor data inside a read-only mapping of the file.
//
// Everything is validated when the file is opened, so later lookups cannot
// fail on a corrupt file: every count, string and array is checked against
// the bytes that remain, tensor types must be known ggml types, and tensor
// data must be aligned, inside the data section and free of overlaps.
// Errors name the file, the key or tensor involved, and what was expected.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ir/status.h"
#include "runtime/ggml_type.h"

namespace graphc {

// GGUF metadata value types, numbered as in the file.
enum class GgufValueType : uint32_t {
  u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7,
  string = 8, array = 9, u64 = 10, i64 = 11, f64 = 12,
};
std::string_view gguf_value_type_name(GgufValueType t);

// An array value: one vector whose variant index is the element type's id.
// GGUF has no arrays of arrays, so index 9 is never used.
struct GgufArray {
  using Storage = std::variant<std::vector<uint8_t>, std::vector<int8_t>, std::vector<uint16_t>,
                               std::vector<int16_t>, std::vector<uint32_t>, std::vector<int32_t>,
                               std::vector<float>, std::vector<bool>, std::vector<std::string>,
                               std::monostate, std::vector<uint64_t>, std::vector<int64_t>,
                               std::vector<double>>;
  Storage values;

  GgufValueType elem_type() const { return static_cast<GgufValueType>(values.index()); }
  size_t size() const;
};

// A metadata value; the variant index is the GGUF value type id.
struct GgufValue {
  using Storage = std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool,
                               std::string, GgufArray, uint64_t, int64_t, double>;
  Storage value;

  GgufValueType type() const { return static_cast<GgufValueType>(value.index()); }
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> ne;  // ggml order: ne[0] is the fastest-varying dimension
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;      // from the start of the data section
  uint64_t n_bytes = 0;
  int64_t n_elements = 0;

  // Hugging Face / row-major order: ne reversed.
  std::vector<int64_t> shape() const { return {ne.rbegin(), ne.rend()}; }
};

// A tensor's bytes inside the reader's mapping. `data` stays valid while the
// reader or a keep_alive() handle lives; `name` points into the reader.
// `data` is aligned only as the file aligns it (general.alignment from the
// start of the file's mapping).
struct GgufTensorView {
  std::string_view name;
  GgmlType type = GgmlType::F32;
  std::vector<int64_t> shape;  // row-major (reversed ne)
  const uint8_t* data = nullptr;
  uint64_t n_bytes = 0;
  int64_t n_elements = 0;
};

class GgufReader {
 public:
  static Expected<GgufReader> open(const std::string& path);
  // Parses a file image held in memory; `name` stands for the path in errors.
  static Expected<GgufReader> open_memory(std::vector<uint8_t> bytes, std::string name = "<memory>");

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // start of the data section in the file
  std::span<const uint8_t> file_bytes() const { return bytes_; }
  // Shares ownership of the mapping, for views that outlive the reader.
  std::shared_ptr<const void> keep_alive() const { return storage_; }

  // Metadata, in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  const GgufValue* find(std::string_view key) const;

  // Typed accessors: nullopt when the key is absent or has another type.
  // Integer getters accept any integer type whose value fits; get_f32 also
  // accepts f64; array getters accept arrays whose elements convert exactly.
  std::optional<uint32_t> get_u32(std::string_view key) const;
  std::optional<int32_t> get_i32(std::string_view key) const;
  std::optional<uint64_t> get_u64(std::string_view key) const;
  std::optional<float> get_f32(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  std::optional<std::string> get_string(std::string_view key) const;
  std::optional<std::vector<std::string>> get_string_array(std::string_view key) const;
  std::optional<std::vector<float>> get_f32_array(std::string_view key) const;
  std::optional<std::vector<int32_t>> get_i32_array(std::string_view key) const;

  // Tensors, in file order.
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  Expected<GgufTensorView> tensor(std::string_view name) const;

  // The whole tensor as float, in row-major order.
  Expected<std::vector<float>> dequantize_tensor(std::string_view name) const;
  // Rows [first, first + count) of a tensor, a row being ne[0] elements (so
  // for token_embd, the embeddings of tokens first .. first + count - 1).
  Expected<std::vector<float>> dequantize_rows(std::string_view name, int64_t first, int64_t count) const;

 private:
  GgufReader() = default;
  static Expected<GgufReader> parse(std::shared_ptr<const void> storage, std::span<const uint8_t> bytes,
                                    std::string path);
  friend class GgufParser;

  std::string path_;
  std::shared_ptr<const void> storage_;
  std::span<const uint8_t> bytes_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::map<std::string, size_t, std::less<>> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace graphc
