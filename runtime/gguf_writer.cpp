#include "runtime/gguf_writer.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ir/dtype.h"
#include "runtime/mapped_file.h"

namespace graphc {
namespace {

class ByteWriter {
 public:
  template <typename T>
  void put(T v) {
    const size_t at = out_.size();
    out_.resize(at + sizeof(T));
    std::memcpy(out_.data() + at, &v, sizeof(T));
  }
  void put_bytes(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void pad_to(uint64_t alignment) { out_.resize((out_.size() + alignment - 1) / alignment * alignment, 0); }
  size_t size() const { return out_.size(); }
  std::vector<uint8_t> take() { return std::move(out_); }

 private:
  std::vector<uint8_t> out_;
};

void put_array(ByteWriter& out, const GgufArray& a) {
  out.put<uint32_t>(static_cast<uint32_t>(a.elem_type()));
  out.put<uint64_t>(a.size());
  std::visit(
      [&](const auto& vec) {
        using V = std::decay_t<decltype(vec)>;
        if constexpr (std::is_same_v<V, std::vector<std::string>>) {
          for (const auto& s : vec) out.put_string(s);
        } else if constexpr (std::is_same_v<V, std::vector<bool>>) {
          for (bool b : vec) out.put<uint8_t>(b ? 1 : 0);
        } else if constexpr (!std::is_same_v<V, std::monostate>) {
          for (auto x : vec) out.put(x);
        }
      },
      a.values);
}

void put_value(ByteWriter& out, const GgufValue& v) {
  out.put<uint32_t>(static_cast<uint32_t>(v.type()));
  std::visit(
      [&](const auto& x) {
        using X = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<X, std::string>) out.put_string(x);
        else if constexpr (std::is_same_v<X, GgufArray>) put_array(out, x);
        else if constexpr (std::is_same_v<X, bool>) out.put<uint8_t>(x ? 1 : 0);
        else out.put(x);
      },
      v.value);
}

template <typename T>
void append_le(std::vector<uint8_t>& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

std::vector<uint8_t> encode(GgmlType type, std::span<const float> values) {
  std::vector<uint8_t> out;
  switch (type) {
    case GgmlType::F32:
      for (float v : values) append_le(out, v);
      break;
    case GgmlType::F16:
      for (float v : values) append_le(out, float_to_f16_bits(v));
      break;
    case GgmlType::BF16:
      for (float v : values) append_le(out, float_to_bf16_bits(v));
      break;
    case GgmlType::Q8_0: out = quantize_q8_0(values); break;
    default: break;
  }
  return out;
}

}  // namespace

std::vector<uint8_t> quantize_q8_0(std::span<const float> values) {
  std::vector<uint8_t> out;
  out.reserve(values.size() / 32 * 34);
  for (size_t b = 0; b + 32 <= values.size(); b += 32) {
    float amax = 0;
    for (size_t j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(values[b + j]));
    const float d = amax / 127.0f;
    const float inv = d != 0 ? 1.0f / d : 0.0f;
    append_le(out, float_to_f16_bits(d));
    for (size_t j = 0; j < 32; ++j)
      out.push_back(static_cast<uint8_t>(static_cast<int8_t>(std::lround(values[b + j] * inv))));
  }
  return out;
}

void GgufWriter::set_value(const std::string& key, GgufValue v) {
  auto it = std::find_if(kv_.begin(), kv_.end(), [&](const auto& kv) { return kv.first == key; });
  if (it != kv_.end()) it->second = std::move(v);
  else kv_.emplace_back(key, std::move(v));
}

void GgufWriter::set_u32(const std::string& key, uint32_t v) { set_value(key, {v}); }
void GgufWriter::set_i32(const std::string& key, int32_t v) { set_value(key, {v}); }
void GgufWriter::set_f32(const std::string& key, float v) { set_value(key, {v}); }
void GgufWriter::set_bool(const std::string& key, bool v) { set_value(key, {v}); }
void GgufWriter::set_string(const std::string& key, std::string v) { set_value(key, {std::move(v)}); }
void GgufWriter::set_string_array(const std::string& key, std::vector<std::string> v) {
  set_value(key, {GgufArray{std::move(v)}});
}
void GgufWriter::set_f32_array(const std::string& key, std::vector<float> v) {
  set_value(key, {GgufArray{std::move(v)}});
}
void GgufWriter::set_i32_array(const std::string& key, std::vector<int32_t> v) {
  set_value(key, {GgufArray{std::move(v)}});
}

Status GgufWriter::set_alignment(uint32_t alignment) {
  if (alignment == 0 || !std::has_single_bit(alignment))
    return Error{fmt::format("GGUF alignment must be a power of two, got {}", alignment)};
  alignment_ = alignment;
  set_u32("general.alignment", alignment);
  return Status::success();
}

Status GgufWriter::add_raw_tensor(const std::string& name, GgmlType type, std::vector<int64_t> shape,
                                  std::span<const uint8_t> data) {
  if (shape.size() > 4) return Error{fmt::format("GGUF tensor '{}': {} dimensions (at most 4)", name, shape.size())};
  std::vector<int64_t> ne(shape.rbegin(), shape.rend());
  int64_t rows = 1;
  for (size_t d = 1; d < ne.size(); ++d) rows *= ne[d];
  const auto row = row_bytes(type, ne.empty() ? 1 : ne[0]);
  if (!row)
    return Error{fmt::format("GGUF tensor '{}': a row of {} elements is not whole {} blocks of {}", name,
                             ne.empty() ? 1 : ne[0], ggml_type_name(type), block_elems(type))};
  if (static_cast<int64_t>(data.size()) != *row * rows)
    return Error{fmt::format("GGUF tensor '{}': {} bytes given, {} expected for {} {}", name, data.size(),
                             *row * rows, ggml_type_name(type), fmt::join(shape, "x"))};
  for (const Tensor& t : tensors_)
    if (t.name == name) return Error{fmt::format("GGUF tensor '{}' added twice", name)};
  tensors_.push_back({name, type, std::move(ne), {data.begin(), data.end()}});
  return Status::success();
}

Status GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> shape,
                              std::span<const float> values) {
  if (type != GgmlType::F32 && type != GgmlType::F16 && type != GgmlType::BF16 && type != GgmlType::Q8_0)
    return Error{fmt::format("GGUF tensor '{}': cannot encode floats as {} (F32, F16, BF16 or Q8_0)", name,
                             ggml_type_name(type))};
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  if (numel != static_cast<int64_t>(values.size()))
    return Error{fmt::format("GGUF tensor '{}': {} values given for shape [{}]", name, values.size(),
                             fmt::join(shape, ", "))};
  if (type == GgmlType::Q8_0 && (shape.empty() || shape.back() % 32 != 0))
    return Error{fmt::format("GGUF tensor '{}': Q8_0 needs rows of a multiple of 32 elements", name)};
  return add_raw_tensor(name, type, std::move(shape), encode(type, values));
}

std::vector<uint8_t> GgufWriter::serialize() const {
  ByteWriter out;
  out.put_bytes({reinterpret_cast<const uint8_t*>("GGUF"), 4});
  out.put<uint32_t>(3);
  out.put<uint64_t>(tensors_.size());
  out.put<uint64_t>(kv_.size());
  for (const auto& [key, value] : kv_) {
    out.put_string(key);
    put_value(out, value);
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    out.put_string(t.name);
    out.put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
    for (int64_t n : t.ne) out.put<uint64_t>(static_cast<uint64_t>(n));
    out.put<uint32_t>(static_cast<uint32_t>(t.type));
    out.put<uint64_t>(offset);
    offset = (offset + t.data.size() + alignment_ - 1) / alignment_ * alignment_;
  }
  out.pad_to(alignment_);
  for (const Tensor& t : tensors_) {
    out.put_bytes(t.data);
    out.pad_to(alignment_);
  }
  return out.take();
}

Status GgufWriter::write(const std::string& path) const { return write_file_atomically(path, serialize()); }

}  // namespace graphc
