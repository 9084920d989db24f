#include "runtime/ggml_type.h"

#include <limits>

namespace graphc {

std::optional<GgmlType> ggml_type_from_id(uint32_t id) {
  for (GgmlType t : kAllGgmlTypes)
    if (static_cast<uint32_t>(t) == id) return t;
  return std::nullopt;
}

std::string_view ggml_type_name(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return "F32";
    case GgmlType::F16: return "F16";
    case GgmlType::Q4_0: return "Q4_0";
    case GgmlType::Q4_1: return "Q4_1";
    case GgmlType::Q5_0: return "Q5_0";
    case GgmlType::Q5_1: return "Q5_1";
    case GgmlType::Q8_0: return "Q8_0";
    case GgmlType::Q4_K: return "Q4_K";
    case GgmlType::Q5_K: return "Q5_K";
    case GgmlType::Q6_K: return "Q6_K";
    case GgmlType::Q8_K: return "Q8_K";
    case GgmlType::BF16: return "BF16";
  }
  return "?";
}

std::optional<GgmlType> parse_ggml_type(std::string_view name) {
  for (GgmlType t : kAllGgmlTypes)
    if (ggml_type_name(t) == name) return t;
  return std::nullopt;
}

int64_t block_elems(GgmlType t) {
  switch (t) {
    case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16: return 1;
    case GgmlType::Q4_0: case GgmlType::Q4_1: case GgmlType::Q5_0: case GgmlType::Q5_1:
    case GgmlType::Q8_0: return 32;
    case GgmlType::Q4_K: case GgmlType::Q5_K: case GgmlType::Q6_K: case GgmlType::Q8_K: return 256;
  }
  return 0;
}

// Layouts (gemma3.md §4.1): the _0/_1 types are an f16 scale (and min), an
// optional 32-bit high-bit mask and packed quants; the K types are 256-element
// super-blocks.
int64_t block_bytes(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return 4;
    case GgmlType::F16: case GgmlType::BF16: return 2;
    case GgmlType::Q4_0: return 2 + 16;
    case GgmlType::Q4_1: return 2 + 2 + 16;
    case GgmlType::Q5_0: return 2 + 4 + 16;
    case GgmlType::Q5_1: return 2 + 2 + 4 + 16;
    case GgmlType::Q8_0: return 2 + 32;
    case GgmlType::Q4_K: return 2 + 2 + 12 + 128;
    case GgmlType::Q5_K: return 2 + 2 + 12 + 32 + 128;
    case GgmlType::Q6_K: return 128 + 64 + 16 + 2;
    case GgmlType::Q8_K: return 4 + 256 + 2 * 16;
  }
  return 0;
}

std::optional<int64_t> row_bytes(GgmlType t, int64_t ne0) {
  const int64_t elems = block_elems(t);
  if (ne0 < 0 || elems == 0 || ne0 % elems != 0) return std::nullopt;
  const int64_t blocks = ne0 / elems;
  if (blocks > std::numeric_limits<int64_t>::max() / block_bytes(t)) return std::nullopt;
  return blocks * block_bytes(t);
}

}  // namespace graphc
