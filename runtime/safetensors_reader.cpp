#include "runtime/safetensors_reader.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "ir/dtype.h"
#include "runtime/mapped_file.h"

namespace graphc {

static_assert(std::endian::native == std::endian::little, "the safetensors reader assumes a little-endian host");

namespace {

struct DTypeEntry {
  SafetensorsDType type;
  std::string_view name;
  int bytes;
};
constexpr DTypeEntry kDTypes[] = {
    {SafetensorsDType::F64, "F64", 8},         {SafetensorsDType::F32, "F32", 4},
    {SafetensorsDType::F16, "F16", 2},         {SafetensorsDType::BF16, "BF16", 2},
    {SafetensorsDType::I64, "I64", 8},         {SafetensorsDType::I32, "I32", 4},
    {SafetensorsDType::I16, "I16", 2},         {SafetensorsDType::I8, "I8", 1},
    {SafetensorsDType::U64, "U64", 8},         {SafetensorsDType::U32, "U32", 4},
    {SafetensorsDType::U16, "U16", 2},         {SafetensorsDType::U8, "U8", 1},
    {SafetensorsDType::BOOL, "BOOL", 1},       {SafetensorsDType::F8_E4M3, "F8_E4M3", 1},
    {SafetensorsDType::F8_E5M2, "F8_E5M2", 1},
};

// The reference implementation's cap; also bounds what a corrupt length
// field can make us parse.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// A valid header nests three deep (root, tensor entry, shape list).
constexpr int kMaxJsonDepth = 8;

using nlohmann::json;

}  // namespace

std::string_view safetensors_dtype_name(SafetensorsDType t) {
  for (const auto& e : kDTypes)
    if (e.type == t) return e.name;
  return "?";
}

std::optional<SafetensorsDType> parse_safetensors_dtype(std::string_view name) {
  for (const auto& e : kDTypes)
    if (e.name == name) return e.type;
  return std::nullopt;
}

int safetensors_dtype_bytes(SafetensorsDType t) {
  for (const auto& e : kDTypes)
    if (e.type == t) return e.bytes;
  return 0;
}

class SafetensorsParser {
 public:
  explicit SafetensorsParser(SafetensorsReader& r) : r_(r) {}

  void parse() {
    const json header = parse_header();
    if (!header.is_object()) fail(fmt::format("the JSON header is a {}, expected an object", header.type_name()));
    for (const auto& [name, entry] : header.items()) {
      if (name == "__metadata__") read_metadata(entry);
      else read_tensor(name, entry);
    }
    check_tiling();
    for (size_t i = 0; i < r_.tensors_.size(); ++i) r_.index_.emplace(r_.tensors_[i].name, i);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw GraphcError(fmt::format("{}: {}", r_.path_, what));
  }

  json parse_header() {
    const auto bytes = r_.bytes_;
    if (bytes.size() < 8)
      fail(fmt::format("truncated file: {} bytes, but a safetensors file starts with an 8-byte header length",
                       bytes.size()));
    uint64_t n;
    std::memcpy(&n, bytes.data(), 8);
    if (n > bytes.size() - 8)
      fail(fmt::format("header length {} runs past the end of the file ({} bytes, so at most {})", n, bytes.size(),
                       bytes.size() - 8));
    if (n > kMaxHeaderBytes) fail(fmt::format("header length {} exceeds the limit of {} bytes", n, kMaxHeaderBytes));
    r_.data_offset_ = 8 + n;
    const auto* text = reinterpret_cast<const char*>(bytes.data() + 8);
    // Rejecting deep nesting up front keeps a hostile header from costing
    // deep recursion later (destruction, type checks).
    const json::parser_callback_t limit_depth = [this](int depth, json::parse_event_t, json&) {
      if (depth > kMaxJsonDepth) fail(fmt::format("invalid JSON header: nested deeper than {} levels", kMaxJsonDepth));
      return true;
    };
    try {
      return json::parse(text, text + n, limit_depth);
    } catch (const json::exception& e) {
      fail(fmt::format("invalid JSON header: {}", e.what()));
    }
  }

  void read_metadata(const json& entry) {
    if (!entry.is_object()) fail(fmt::format("__metadata__ is a {}, expected an object of strings", entry.type_name()));
    for (const auto& [key, value] : entry.items()) {
      if (!value.is_string())
        fail(fmt::format("__metadata__ key '{}' is a {}, expected a string", key, value.type_name()));
      r_.metadata_.emplace(key, value.get<std::string>());
    }
  }

  void read_tensor(const std::string& name, const json& entry) {
    const std::string what = fmt::format("tensor '{}'", name);
    if (!entry.is_object()) fail(fmt::format("{}: entry is a {}, expected an object", what, entry.type_name()));
    SafetensorsTensorInfo t;
    t.name = name;
    t.dtype = read_dtype(entry, what);
    t.shape = read_uints(entry, "shape", what, std::nullopt);
    const auto offsets = read_uints(entry, "data_offsets", what, 2);
    t.begin = static_cast<uint64_t>(offsets[0]);
    t.end = static_cast<uint64_t>(offsets[1]);
    t.n_elements = element_count(t, what);
    check_range(t, what);
    r_.tensors_.push_back(std::move(t));
  }

  SafetensorsDType read_dtype(const json& entry, const std::string& what) {
    const auto it = entry.find("dtype");
    if (it == entry.end() || !it->is_string()) fail(fmt::format("{}: missing string field \"dtype\"", what));
    const auto& name = it->get_ref<const std::string&>();
    const auto dtype = parse_safetensors_dtype(name);
    if (!dtype)
      fail(fmt::format("{}: unknown dtype \"{}\" (expected F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, "
                       "U8, BOOL, F8_E4M3 or F8_E5M2)",
                       what, name));
    return *dtype;
  }

  // A list of non-negative integers that fit int64; `arity` fixes its length.
  std::vector<int64_t> read_uints(const json& entry, const char* field, const std::string& what,
                                  std::optional<size_t> arity) {
    const auto it = entry.find(field);
    if (it == entry.end() || !it->is_array())
      fail(fmt::format("{}: missing list field \"{}\"", what, field));
    if (arity && it->size() != *arity)
      fail(fmt::format("{}: \"{}\" has {} entries, expected {}", what, field, it->size(), *arity));
    std::vector<int64_t> out;
    for (const json& v : *it) {
      if (!v.is_number_unsigned() || v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        fail(fmt::format("{}: \"{}\" must hold non-negative integers, found {}", what, field, v.dump()));
      out.push_back(v.get<int64_t>());
    }
    return out;
  }

  int64_t element_count(const SafetensorsTensorInfo& t, const std::string& what) {
    int64_t n = 1;
    for (int64_t d : t.shape) {
      if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
        fail(fmt::format("{}: shape [{}] has more elements than int64 can count", what, fmt::join(t.shape, ", ")));
      n *= d;
    }
    return n;
  }

  void check_range(const SafetensorsTensorInfo& t, const std::string& what) {
    const uint64_t data_size = r_.bytes_.size() - r_.data_offset_;
    if (t.begin > t.end)
      fail(fmt::format("{}: data_offsets [{}, {}] end before they begin", what, t.begin, t.end));
    if (t.end > data_size)
      fail(fmt::format("{}: data_offsets [{}, {}] run past the end of the file: the data buffer holds {} bytes", what,
                       t.begin, t.end, data_size));
    const uint64_t elem = static_cast<uint64_t>(safetensors_dtype_bytes(t.dtype));
    const auto n = static_cast<uint64_t>(t.n_elements);
    if (n > std::numeric_limits<uint64_t>::max() / elem || t.end - t.begin != n * elem)
      fail(fmt::format("{}: data_offsets [{}, {}] span {} bytes, but shape [{}] of {} needs {}", what, t.begin, t.end,
                       t.end - t.begin, fmt::join(t.shape, ", "), safetensors_dtype_name(t.dtype),
                       n > std::numeric_limits<uint64_t>::max() / elem ? std::string("more than 2^64")
                                                                       : std::to_string(n * elem)));
  }

  // Sorted by offset, the tensors must cover the data buffer end to end.
  void check_tiling() {
    auto& ts = r_.tensors_;
    std::sort(ts.begin(), ts.end(), [](const auto& a, const auto& b) {
      return std::pair(a.begin, a.end) < std::pair(b.begin, b.end);
    });
    uint64_t expected = 0;
    for (size_t i = 0; i < ts.size(); ++i) {
      if (ts[i].begin < expected)
        fail(fmt::format("tensors '{}' (bytes {}..{}) and '{}' (bytes {}..{}) overlap", ts[i - 1].name,
                         ts[i - 1].begin, ts[i - 1].end, ts[i].name, ts[i].begin, ts[i].end));
      if (ts[i].begin > expected)
        fail(fmt::format("bytes {}..{} of the data buffer belong to no tensor (tensor '{}' starts at {})", expected,
                         ts[i].begin, ts[i].name, ts[i].begin));
      expected = ts[i].end;
    }
    const uint64_t data_size = r_.bytes_.size() - r_.data_offset_;
    if (expected != data_size)
      fail(fmt::format("bytes {}..{} at the end of the data buffer belong to no tensor", expected, data_size));
  }

  SafetensorsReader& r_;
};

Expected<SafetensorsReader> SafetensorsReader::parse(std::shared_ptr<const void> storage,
                                                     std::span<const uint8_t> bytes, std::string path) {
  SafetensorsReader r;
  r.path_ = std::move(path);
  r.storage_ = std::move(storage);
  r.bytes_ = bytes;
  try {
    SafetensorsParser(r).parse();
  } catch (const GraphcError& e) {
    return Error{e.what()};
  } catch (const std::bad_alloc&) {
    return Error{fmt::format("{}: out of memory while reading the header", r.path_)};
  }
  return r;
}

Expected<SafetensorsReader> SafetensorsReader::open(const std::string& path) {
  auto file = MappedFile::open(path);
  if (!file) return file.error();
  auto shared = std::make_shared<MappedFile>(std::move(file).value());
  const std::span<const uint8_t> bytes = shared->bytes();
  return parse(std::move(shared), bytes, path);
}

Expected<SafetensorsReader> SafetensorsReader::open_memory(std::vector<uint8_t> bytes, std::string name) {
  auto shared = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  const std::span<const uint8_t> view(*shared);
  return parse(std::move(shared), view, std::move(name));
}

const SafetensorsTensorInfo* SafetensorsReader::find_tensor(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

Expected<SafetensorsTensorView> SafetensorsReader::tensor(std::string_view name) const {
  const SafetensorsTensorInfo* t = find_tensor(name);
  if (!t)
    return Error{fmt::format("{}: no tensor named '{}' (the file has {} tensors)", path_, name, tensors_.size())};
  return SafetensorsTensorView{t->name,        t->dtype,           t->shape, bytes_.data() + data_offset_ + t->begin,
                               t->end - t->begin, t->n_elements};
}

Expected<std::vector<float>> SafetensorsReader::to_f32(std::string_view name) const {
  auto view = tensor(name);
  if (!view) return view.error();
  std::vector<float> out(static_cast<size_t>(view->n_elements));
  const uint8_t* p = view->data;
  switch (view->dtype) {
    case SafetensorsDType::F32:
      if (!out.empty()) std::memcpy(out.data(), p, out.size() * 4);
      return out;
    case SafetensorsDType::F16:
    case SafetensorsDType::BF16:
      for (size_t i = 0; i < out.size(); ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = view->dtype == SafetensorsDType::F16 ? f16_bits_to_float(h) : bf16_bits_to_float(h);
      }
      return out;
    default:
      return Error{fmt::format("{}: tensor '{}' has dtype {}; only F32, F16 and BF16 convert to float", path_, name,
                               safetensors_dtype_name(view->dtype))};
  }
}

}  // namespace graphc
