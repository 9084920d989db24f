#include "runtime/safetensors_writer.h"

#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "ir/dtype.h"
#include "runtime/mapped_file.h"

namespace graphc {
namespace {

template <typename T>
void append_le(std::vector<uint8_t>& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

std::vector<uint8_t> encode(SafetensorsDType dtype, std::span<const float> values) {
  std::vector<uint8_t> out;
  out.reserve(values.size() * static_cast<size_t>(safetensors_dtype_bytes(dtype)));
  for (float v : values) {
    if (dtype == SafetensorsDType::F32) append_le(out, v);
    else if (dtype == SafetensorsDType::BF16) append_le(out, float_to_bf16_bits(v));
    else append_le(out, float_to_f16_bits(v));
  }
  return out;
}

// The header is JSON, which cannot carry arbitrary bytes.
bool is_valid_json_string(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

}  // namespace

Status SafetensorsWriter::set_metadata(const std::string& key, std::string value) {
  if (!is_valid_json_string(key) || !is_valid_json_string(value))
    return Error{fmt::format("safetensors metadata '{}': keys and values must be valid UTF-8", key)};
  metadata_[key] = std::move(value);
  return Status::success();
}

Status SafetensorsWriter::add_tensor(const std::string& name, SafetensorsDType dtype, std::vector<int64_t> shape,
                                     std::span<const float> values) {
  if (dtype != SafetensorsDType::F32 && dtype != SafetensorsDType::BF16 && dtype != SafetensorsDType::F16)
    return Error{fmt::format("safetensors tensor '{}': cannot write floats as {} (F32, BF16 or F16)", name,
                             safetensors_dtype_name(dtype))};
  if (name == "__metadata__") return Error{"safetensors: '__metadata__' is reserved and cannot name a tensor"};
  if (!is_valid_json_string(name))
    return Error{fmt::format("safetensors tensor '{}': the name is not valid UTF-8", name)};
  int64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0) return Error{fmt::format("safetensors tensor '{}': negative dimension {}", name, d)};
    numel *= d;
  }
  if (numel != static_cast<int64_t>(values.size()))
    return Error{fmt::format("safetensors tensor '{}': {} values given for shape [{}]", name, values.size(),
                             fmt::join(shape, ", "))};
  for (const Tensor& t : tensors_)
    if (t.name == name) return Error{fmt::format("safetensors tensor '{}' added twice", name)};
  tensors_.push_back({name, dtype, std::move(shape), encode(dtype, values)});
  return Status::success();
}

std::vector<uint8_t> SafetensorsWriter::serialize() const {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    header[t.name] = {{"dtype", safetensors_dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.data.size()}}};
    offset += t.data.size();
  }
  std::string text = header.dump();
  // Spaces up to a multiple of 8 keep the data buffer 8-byte aligned in the
  // file, as the reference writer does.
  text.resize((8 + text.size() + 7) / 8 * 8 - 8, ' ');
  std::vector<uint8_t> out;
  append_le<uint64_t>(out, text.size());
  out.insert(out.end(), text.begin(), text.end());
  for (const Tensor& t : tensors_) out.insert(out.end(), t.data.begin(), t.data.end());
  return out;
}

Status SafetensorsWriter::write(const std::string& path) const { return write_file_atomically(path, serialize()); }

}  // namespace graphc
