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

Status SafetensorsWriter::check_new(const std::string& name, SafetensorsDType dtype,
                                    const std::vector<int64_t>& shape) const {
  if (dtype != SafetensorsDType::F32 && dtype != SafetensorsDType::BF16 && dtype != SafetensorsDType::F16)
    return Error{fmt::format("safetensors tensor '{}': cannot write floats as {} (F32, BF16 or F16)", name,
                             safetensors_dtype_name(dtype))};
  if (name == "__metadata__") return Error{"safetensors: '__metadata__' is reserved and cannot name a tensor"};
  if (!is_valid_json_string(name))
    return Error{fmt::format("safetensors tensor '{}': the name is not valid UTF-8", name)};
  for (int64_t d : shape)
    if (d < 0) return Error{fmt::format("safetensors tensor '{}': negative dimension {}", name, d)};
  for (const Tensor& t : tensors_)
    if (t.name == name) return Error{fmt::format("safetensors tensor '{}' added twice", name)};
  return Status::success();
}

Status SafetensorsWriter::add_tensor(const std::string& name, SafetensorsDType dtype, std::vector<int64_t> shape,
                                     std::span<const float> values) {
  if (Status s = check_new(name, dtype, shape); !s.ok()) return s;
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  if (numel != static_cast<int64_t>(values.size()))
    return Error{fmt::format("safetensors tensor '{}': {} values given for shape [{}]", name, values.size(),
                             fmt::join(shape, ", "))};
  std::vector<uint8_t> data = encode(dtype, values);
  const uint64_t bytes = data.size();
  tensors_.push_back({name, dtype, std::move(shape), std::move(data), nullptr, bytes});
  return Status::success();
}

Status SafetensorsWriter::add_tensor_lazy(const std::string& name, SafetensorsDType dtype, std::vector<int64_t> shape,
                                          std::function<std::vector<float>()> fetch) {
  if (Status s = check_new(name, dtype, shape); !s.ok()) return s;
  uint64_t numel = 1;
  for (int64_t d : shape) numel *= uint64_t(d);
  const uint64_t bytes = numel * uint64_t(safetensors_dtype_bytes(dtype));
  tensors_.push_back({name, dtype, std::move(shape), {}, std::move(fetch), bytes});
  return Status::success();
}

std::string SafetensorsWriter::header() const {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    header[t.name] = {{"dtype", safetensors_dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes}}};
    offset += t.bytes;
  }
  std::string text = header.dump();
  // Spaces up to a multiple of 8 keep the data buffer 8-byte aligned in the
  // file, as the reference writer does.
  text.resize((8 + text.size() + 7) / 8 * 8 - 8, ' ');
  std::string out(8, '\0');
  const uint64_t n = text.size();
  std::memcpy(out.data(), &n, 8);  // little-endian hosts only, as everywhere here
  return out + text;
}

std::vector<uint8_t> SafetensorsWriter::serialize() const {
  std::vector<uint8_t> out;
  const Status s = write_file_pieces([&](std::span<const uint8_t> piece) {
    out.insert(out.end(), piece.begin(), piece.end());
    return Status::success();
  });
  if (!s.ok()) throw GraphcError(s.error().message);
  return out;
}

Status SafetensorsWriter::write_file_pieces(const ByteSink& sink) const {
  const std::string h = header();
  if (Status s = sink(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(h.data()), h.size())); !s.ok())
    return s;
  for (const Tensor& t : tensors_) {
    if (!t.fetch) {
      if (Status s = sink(t.data); !s.ok()) return s;
      continue;
    }
    const std::vector<float> values = t.fetch();
    const std::vector<uint8_t> data = encode(t.dtype, values);
    if (data.size() != t.bytes)
      return Error{fmt::format("safetensors tensor '{}': got {} bytes of values, the header says {}", t.name,
                               data.size(), t.bytes)};
    if (Status s = sink(data); !s.ok()) return s;
  }
  return Status::success();
}

Status SafetensorsWriter::write(const std::string& path) const {
  return write_file_atomically(path, [&](const ByteSink& sink) { return write_file_pieces(sink); });
}

}  // namespace graphc
