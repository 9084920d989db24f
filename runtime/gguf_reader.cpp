#include "runtime/gguf_reader.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <numeric>
#include <utility>

#include <fmt/format.h>

#include "runtime/dequantize.h"
#include "runtime/mapped_file.h"

namespace graphc {

static_assert(std::endian::native == std::endian::little, "the GGUF reader assumes a little-endian host");

std::string_view gguf_value_type_name(GgufValueType t) {
  switch (t) {
    case GgufValueType::u8: return "u8";
    case GgufValueType::i8: return "i8";
    case GgufValueType::u16: return "u16";
    case GgufValueType::i16: return "i16";
    case GgufValueType::u32: return "u32";
    case GgufValueType::i32: return "i32";
    case GgufValueType::f32: return "f32";
    case GgufValueType::boolean: return "bool";
    case GgufValueType::string: return "string";
    case GgufValueType::array: return "array";
    case GgufValueType::u64: return "u64";
    case GgufValueType::i64: return "i64";
    case GgufValueType::f64: return "f64";
  }
  return "?";
}

size_t GgufArray::size() const {
  return std::visit(
      [](const auto& v) -> size_t {
        if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::monostate>) return 0;
        else return v.size();
      },
      values);
}

namespace {

constexpr uint32_t kMaxDims = 4;  // ggml's GGML_MAX_DIMS
// Smallest encodings, used to reject counts the remaining bytes cannot hold
// before allocating anything for them.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;          // empty key, type, one-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;  // empty name, n_dims = 0, type, offset

uint64_t value_type_min_bytes(GgufValueType t) {
  switch (t) {
    case GgufValueType::u8: case GgufValueType::i8: case GgufValueType::boolean: return 1;
    case GgufValueType::u16: case GgufValueType::i16: return 2;
    case GgufValueType::u32: case GgufValueType::i32: case GgufValueType::f32: return 4;
    case GgufValueType::u64: case GgufValueType::i64: case GgufValueType::f64: return 8;
    case GgufValueType::string: return 8;
    case GgufValueType::array: return 4 + 8;
  }
  return 1;
}

// Byte cursor over the file image; every read checks the remaining length
// first and throws GraphcError (caught at GgufReader's boundary) if short.
class Cursor {
 public:
  Cursor(std::span<const uint8_t> bytes, const std::string& path) : bytes_(bytes), path_(path) {}

  size_t pos() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }

  [[noreturn]] void fail(const std::string& what) const {
    throw GraphcError(fmt::format("{}: {}", path_, what));
  }

  void need(uint64_t n, std::string_view what) const {
    if (n > remaining())
      fail(fmt::format("truncated file: {} needs {} bytes at offset {}, but the file has {} bytes",
                       what, n, pos_, bytes_.size()));
  }

  template <typename T>
  T read(std::string_view what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(std::string_view what) {
    const auto len = read<uint64_t>(what);
    need(len, what);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return s;
  }

  template <typename T>
  std::vector<T> read_pod_array(uint64_t count, std::string_view what) {
    need(count * sizeof(T), what);  // count was bounded by remaining() already
    std::vector<T> v(static_cast<size_t>(count));
    if (count) std::memcpy(v.data(), bytes_.data() + pos_, static_cast<size_t>(count) * sizeof(T));
    pos_ += static_cast<size_t>(count) * sizeof(T);
    return v;
  }

 private:
  std::span<const uint8_t> bytes_;
  const std::string& path_;
  size_t pos_ = 0;
};

std::string known_type_list() {
  std::string out;
  for (GgmlType t : kAllGgmlTypes)
    out += fmt::format("{}{} ({})", out.empty() ? "" : ", ", ggml_type_name(t), static_cast<uint32_t>(t));
  return out;
}

// a * b for non-negative values, nullopt on overflow.
std::optional<int64_t> checked_mul(int64_t a, int64_t b) {
  if (a != 0 && b > std::numeric_limits<int64_t>::max() / a) return std::nullopt;
  return a * b;
}

}  // namespace

class GgufParser {
 public:
  GgufParser(GgufReader& r) : r_(r), in_(r.bytes_, r.path_) {}

  void parse() {
    read_header();
    for (uint64_t i = 0; i < n_kv_; ++i) read_kv(i);
    read_alignment();
    for (uint64_t i = 0; i < n_tensors_; ++i) read_tensor_info(i);
    locate_data_section();
    check_tensor_ranges();
  }

 private:
  void read_header() {
    const auto bytes = r_.bytes_;
    if (bytes.empty()) in_.fail("empty file (expected a GGUF header)");
    const size_t head = std::min<size_t>(4, bytes.size());
    if (std::memcmp(bytes.data(), "GGUF", head) != 0) {
      std::string found;
      for (size_t i = 0; i < head; ++i) found += fmt::format(" {:02x}", bytes[i]);
      in_.fail(fmt::format("not a GGUF file: bad magic (expected \"GGUF\" = 47 47 55 46, found{})", found));
    }
    if (head < 4)
      in_.fail(fmt::format("truncated file: {} bytes, too short for the GGUF magic and header", bytes.size()));
    in_.read<uint32_t>("magic");
    const auto version = in_.read<uint32_t>("the version");
    if (version == 0x02000000u || version == 0x03000000u)
      in_.fail("big-endian GGUF files are not supported (expected a little-endian file)");
    if (version != 2 && version != 3)
      in_.fail(fmt::format("unsupported GGUF version {} (expected 2 or 3)", version));
    r_.version_ = version;
    n_tensors_ = in_.read<uint64_t>("the tensor count");
    n_kv_ = in_.read<uint64_t>("the metadata count");
    if (n_kv_ > in_.remaining() / kMinKvBytes)
      in_.fail(fmt::format("absurd metadata count {}: the remaining {} bytes hold at most {} (truncated or corrupt file)", n_kv_,
                           in_.remaining(), in_.remaining() / kMinKvBytes));
    if (n_tensors_ > in_.remaining() / kMinTensorInfoBytes)
      in_.fail(fmt::format("absurd tensor count {}: the remaining {} bytes hold at most {} (truncated or corrupt file)", n_tensors_,
                           in_.remaining(), in_.remaining() / kMinTensorInfoBytes));
  }

  void read_kv(uint64_t i) {
    std::string key = in_.read_string(fmt::format("the key of metadata entry #{}", i));
    const std::string what = fmt::format("the value of key '{}'", key);
    if (r_.kv_index_.count(key)) in_.fail(fmt::format("duplicate metadata key '{}'", key));
    const auto type = read_value_type(what, /*allow_array=*/true);
    GgufValue value{read_value(type, what)};
    r_.kv_index_.emplace(key, r_.kv_.size());
    r_.kv_.emplace_back(std::move(key), std::move(value));
  }

  GgufValueType read_value_type(const std::string& what, bool allow_array) {
    const auto id = in_.read<uint32_t>(what);
    if (id > static_cast<uint32_t>(GgufValueType::f64))
      in_.fail(fmt::format("{} has unknown value type {} (expected 0..12)", what, id));
    const auto type = static_cast<GgufValueType>(id);
    if (type == GgufValueType::array && !allow_array)
      in_.fail(fmt::format("{} is an array of arrays, which GGUF readers do not support", what));
    return type;
  }

  GgufValue::Storage read_value(GgufValueType type, const std::string& what) {
    switch (type) {
      case GgufValueType::u8: return in_.read<uint8_t>(what);
      case GgufValueType::i8: return in_.read<int8_t>(what);
      case GgufValueType::u16: return in_.read<uint16_t>(what);
      case GgufValueType::i16: return in_.read<int16_t>(what);
      case GgufValueType::u32: return in_.read<uint32_t>(what);
      case GgufValueType::i32: return in_.read<int32_t>(what);
      case GgufValueType::f32: return in_.read<float>(what);
      case GgufValueType::boolean: return in_.read<uint8_t>(what) != 0;
      case GgufValueType::string: return in_.read_string(what);
      case GgufValueType::array: return read_array(what);
      case GgufValueType::u64: return in_.read<uint64_t>(what);
      case GgufValueType::i64: return in_.read<int64_t>(what);
      case GgufValueType::f64: return in_.read<double>(what);
    }
    in_.fail(fmt::format("{} has an unknown value type", what));
  }

  GgufArray read_array(const std::string& what) {
    const auto elem = read_value_type(what + " (array element type)", /*allow_array=*/false);
    const auto count = in_.read<uint64_t>(what + " (array length)");
    const uint64_t min_bytes = value_type_min_bytes(elem);
    if (count > in_.remaining() / min_bytes)
      in_.fail(fmt::format("truncated file: {} is an array of {} {} elements (at least {} bytes), but only {} "
                           "bytes remain",
                           what, count, gguf_value_type_name(elem), min_bytes, in_.remaining()));
    switch (elem) {
      case GgufValueType::u8: return {in_.read_pod_array<uint8_t>(count, what)};
      case GgufValueType::i8: return {in_.read_pod_array<int8_t>(count, what)};
      case GgufValueType::u16: return {in_.read_pod_array<uint16_t>(count, what)};
      case GgufValueType::i16: return {in_.read_pod_array<int16_t>(count, what)};
      case GgufValueType::u32: return {in_.read_pod_array<uint32_t>(count, what)};
      case GgufValueType::i32: return {in_.read_pod_array<int32_t>(count, what)};
      case GgufValueType::f32: return {in_.read_pod_array<float>(count, what)};
      case GgufValueType::u64: return {in_.read_pod_array<uint64_t>(count, what)};
      case GgufValueType::i64: return {in_.read_pod_array<int64_t>(count, what)};
      case GgufValueType::f64: return {in_.read_pod_array<double>(count, what)};
      case GgufValueType::boolean: {
        std::vector<bool> v;
        v.reserve(static_cast<size_t>(count));
        for (uint64_t j = 0; j < count; ++j) v.push_back(in_.read<uint8_t>(what) != 0);
        return {std::move(v)};
      }
      case GgufValueType::string: {
        std::vector<std::string> v;
        v.reserve(static_cast<size_t>(count));
        for (uint64_t j = 0; j < count; ++j) v.push_back(in_.read_string(fmt::format("{} (element {})", what, j)));
        return {std::move(v)};
      }
      case GgufValueType::array: break;
    }
    in_.fail(fmt::format("{} is an array of arrays, which GGUF readers do not support", what));
  }

  void read_alignment() {
    const GgufValue* v = r_.find("general.alignment");
    if (!v) return;
    const auto* a = std::get_if<uint32_t>(&v->value);
    if (!a || *a == 0 || !std::has_single_bit(*a))
      in_.fail(fmt::format("general.alignment must be a u32 power of two, found {} {}",
                           gguf_value_type_name(v->type()), a ? std::to_string(*a) : std::string("value")));
    r_.alignment_ = *a;
  }

  void read_tensor_info(uint64_t i) {
    GgufTensorInfo t;
    t.name = in_.read_string(fmt::format("the name of tensor #{}", i));
    const std::string what = fmt::format("tensor '{}'", t.name);
    if (r_.tensor_index_.count(t.name)) in_.fail(fmt::format("duplicate {}", what));
    const auto n_dims = in_.read<uint32_t>(what + " (dimension count)");
    if (n_dims > kMaxDims)
      in_.fail(fmt::format("{} has {} dimensions (expected at most {})", what, n_dims, kMaxDims));
    for (uint32_t d = 0; d < n_dims; ++d) {
      const auto ne = in_.read<uint64_t>(what + " (dimensions)");
      if (ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        in_.fail(fmt::format("{} has dimension ne[{}] = {}, which is negative as int64", what, d, ne));
      t.ne.push_back(static_cast<int64_t>(ne));
    }
    const auto type_id = in_.read<uint32_t>(what + " (type)");
    const auto type = ggml_type_from_id(type_id);
    if (!type)
      in_.fail(fmt::format("{} has unknown ggml type {} (expected one of {})", what, type_id, known_type_list()));
    t.type = *type;
    t.offset = in_.read<uint64_t>(what + " (data offset)");
    size_tensor(t, what);
    r_.tensor_index_.emplace(t.name, r_.tensors_.size());
    r_.tensors_.push_back(std::move(t));
  }

  // Element and byte counts, refusing rows that are not whole blocks and
  // products that overflow.
  void size_tensor(GgufTensorInfo& t, const std::string& what) {
    const int64_t ne0 = t.ne.empty() ? 1 : t.ne[0];
    if (ne0 % block_elems(t.type) != 0)
      in_.fail(fmt::format("{}: ne[0] = {} is not a multiple of the {} block size {}", what, ne0,
                           ggml_type_name(t.type), block_elems(t.type)));
    const auto row = row_bytes(t.type, ne0);
    if (!row) in_.fail(fmt::format("{}: the byte size overflows int64", what));
    std::optional<int64_t> elements = ne0, bytes = *row;
    for (size_t d = 1; d < t.ne.size() && elements && bytes; ++d) {
      elements = checked_mul(*elements, t.ne[d]);
      bytes = checked_mul(*bytes, t.ne[d]);
    }
    if (!elements || !bytes) in_.fail(fmt::format("{}: the element or byte count overflows int64", what));
    t.n_elements = *elements;
    t.n_bytes = static_cast<uint64_t>(*bytes);
  }

  void locate_data_section() {
    const uint64_t a = r_.alignment_;
    r_.data_offset_ = (in_.pos() + a - 1) / a * a;
    if (!r_.tensors_.empty() && r_.data_offset_ > r_.bytes_.size())
      in_.fail(fmt::format("truncated file: the data section would start at offset {}, but the file has {} bytes",
                           r_.data_offset_, r_.bytes_.size()));
  }

  void check_tensor_ranges() {
    const uint64_t data_size = r_.tensors_.empty() ? 0 : r_.bytes_.size() - r_.data_offset_;
    for (const GgufTensorInfo& t : r_.tensors_) {
      if (t.offset % r_.alignment_ != 0)
        in_.fail(fmt::format("tensor '{}' has data offset {}, not a multiple of the alignment {}", t.name,
                             t.offset, r_.alignment_));
      if (t.offset > data_size || t.n_bytes > data_size - t.offset)
        in_.fail(fmt::format("tensor '{}' ({} bytes at data offset {}) runs past the end of the file: the data "
                             "section holds {} bytes",
                             t.name, t.n_bytes, t.offset, data_size));
    }
    std::vector<size_t> order(r_.tensors_.size());
    std::iota(order.begin(), order.end(), size_t{0});
    const auto& ts = r_.tensors_;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return std::pair(ts[a].offset, ts[a].n_bytes) < std::pair(ts[b].offset, ts[b].n_bytes);
    });
    for (size_t i = 1; i < order.size(); ++i) {
      const GgufTensorInfo &prev = ts[order[i - 1]], &cur = ts[order[i]];
      if (prev.offset + prev.n_bytes > cur.offset)
        in_.fail(fmt::format("tensors '{}' (data bytes {}..{}) and '{}' (data bytes {}..{}) overlap", prev.name,
                             prev.offset, prev.offset + prev.n_bytes, cur.name, cur.offset,
                             cur.offset + cur.n_bytes));
    }
  }

  GgufReader& r_;
  Cursor in_;
  uint64_t n_tensors_ = 0, n_kv_ = 0;
};

Expected<GgufReader> GgufReader::parse(std::shared_ptr<const void> storage, std::span<const uint8_t> bytes,
                                       std::string path) {
  GgufReader r;
  r.path_ = std::move(path);
  r.storage_ = std::move(storage);
  r.bytes_ = bytes;
  try {
    GgufParser(r).parse();
  } catch (const GraphcError& e) {
    return Error{e.what()};
  } catch (const std::bad_alloc&) {
    return Error{fmt::format("{}: out of memory while reading the header", r.path_)};
  }
  return r;
}

Expected<GgufReader> GgufReader::open(const std::string& path) {
  auto file = MappedFile::open(path);
  if (!file) return file.error();
  auto shared = std::make_shared<MappedFile>(std::move(file).value());
  const std::span<const uint8_t> bytes = shared->bytes();
  return parse(std::move(shared), bytes, path);
}

Expected<GgufReader> GgufReader::open_memory(std::vector<uint8_t> bytes, std::string name) {
  auto shared = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  const std::span<const uint8_t> view(*shared);
  return parse(std::move(shared), view, std::move(name));
}

const GgufValue* GgufReader::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

namespace {

// The value of any integer (not bool) alternative, if it fits in T.
template <typename T, typename Variant>
std::optional<T> integer_as(const Variant& v) {
  return std::visit(
      [](const auto& x) -> std::optional<T> {
        using X = std::decay_t<decltype(x)>;
        if constexpr (std::is_integral_v<X> && !std::is_same_v<X, bool>) {
          if (std::in_range<T>(x)) return static_cast<T>(x);
        }
        return std::nullopt;
      },
      v);
}

template <typename T>
std::optional<std::vector<T>> integer_array_as(const GgufArray& a) {
  return std::visit(
      [](const auto& vec) -> std::optional<std::vector<T>> {
        using V = std::decay_t<decltype(vec)>;
        if constexpr (std::is_same_v<V, std::monostate>) {
          return std::nullopt;
        } else {
          using X = typename V::value_type;
          if constexpr (std::is_integral_v<X> && !std::is_same_v<X, bool>) {
            std::vector<T> out;
            out.reserve(vec.size());
            for (X x : vec) {
              if (!std::in_range<T>(x)) return std::nullopt;
              out.push_back(static_cast<T>(x));
            }
            return out;
          }
          return std::nullopt;
        }
      },
      a.values);
}

}  // namespace

std::optional<uint32_t> GgufReader::get_u32(std::string_view key) const {
  const GgufValue* v = find(key);
  return v ? integer_as<uint32_t>(v->value) : std::nullopt;
}
std::optional<int32_t> GgufReader::get_i32(std::string_view key) const {
  const GgufValue* v = find(key);
  return v ? integer_as<int32_t>(v->value) : std::nullopt;
}
std::optional<uint64_t> GgufReader::get_u64(std::string_view key) const {
  const GgufValue* v = find(key);
  return v ? integer_as<uint64_t>(v->value) : std::nullopt;
}

std::optional<float> GgufReader::get_f32(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (const auto* f = std::get_if<float>(&v->value)) return *f;
  if (const auto* d = std::get_if<double>(&v->value)) return static_cast<float>(*d);
  return std::nullopt;
}

std::optional<bool> GgufReader::get_bool(std::string_view key) const {
  const GgufValue* v = find(key);
  if (const auto* b = v ? std::get_if<bool>(&v->value) : nullptr) return *b;
  return std::nullopt;
}

std::optional<std::string> GgufReader::get_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (const auto* s = v ? std::get_if<std::string>(&v->value) : nullptr) return *s;
  return std::nullopt;
}

std::optional<std::vector<std::string>> GgufReader::get_string_array(std::string_view key) const {
  const GgufValue* v = find(key);
  const auto* a = v ? std::get_if<GgufArray>(&v->value) : nullptr;
  if (const auto* s = a ? std::get_if<std::vector<std::string>>(&a->values) : nullptr) return *s;
  return std::nullopt;
}

std::optional<std::vector<float>> GgufReader::get_f32_array(std::string_view key) const {
  const GgufValue* v = find(key);
  const auto* a = v ? std::get_if<GgufArray>(&v->value) : nullptr;
  if (!a) return std::nullopt;
  if (const auto* f = std::get_if<std::vector<float>>(&a->values)) return *f;
  if (const auto* d = std::get_if<std::vector<double>>(&a->values)) return std::vector<float>(d->begin(), d->end());
  return std::nullopt;
}

std::optional<std::vector<int32_t>> GgufReader::get_i32_array(std::string_view key) const {
  const GgufValue* v = find(key);
  const auto* a = v ? std::get_if<GgufArray>(&v->value) : nullptr;
  return a ? integer_array_as<int32_t>(*a) : std::nullopt;
}

const GgufTensorInfo* GgufReader::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Expected<GgufTensorView> GgufReader::tensor(std::string_view name) const {
  const GgufTensorInfo* t = find_tensor(name);
  if (!t) return Error{fmt::format("{}: no tensor named '{}' (the file has {} tensors)", path_, name, tensors_.size())};
  return GgufTensorView{t->name, t->type, t->shape(), bytes_.data() + data_offset_ + t->offset, t->n_bytes,
                        t->n_elements};
}

Expected<std::vector<float>> GgufReader::dequantize_tensor(std::string_view name) const {
  const GgufTensorInfo* t = find_tensor(name);
  if (!t) return tensor(name).error();
  return dequantize_rows(name, 0, t->ne.empty() ? 1 : t->n_elements / std::max<int64_t>(t->ne[0], 1));
}

Expected<std::vector<float>> GgufReader::dequantize_rows(std::string_view name, int64_t first, int64_t count) const {
  auto view = tensor(name);
  if (!view) return view.error();
  const GgufTensorInfo& t = *find_tensor(name);
  const int64_t row = t.ne.empty() ? 1 : t.ne[0];
  const int64_t n_rows = row == 0 ? 0 : t.n_elements / row;
  if (first < 0 || count < 0 || first > n_rows || count > n_rows - first)
    return Error{fmt::format("{}: tensor '{}' has {} rows; rows {}..{} are out of range", path_, name, n_rows, first,
                             first + count)};
  std::vector<float> out(static_cast<size_t>(row * count));
  const int64_t stride = *row_bytes(t.type, row);
  Status s = dequantize_row(t.type, view->data + first * stride, out.data(), row * count);
  if (!s) return Error{fmt::format("{}: tensor '{}': {}", path_, name, s.error().message)};
  return out;
}

}  // namespace graphc
