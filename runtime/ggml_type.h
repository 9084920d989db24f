// ggml tensor element types as GGUF stores them, with their block geometry.
// Quantized types pack a fixed number of elements (a block) into a fixed
// number of bytes; a row of ne0 elements is ne0 / block_elems whole blocks.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace graphc {

// Values are the type ids written in GGUF tensor infos.
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  BF16 = 30,
};

inline constexpr GgmlType kAllGgmlTypes[] = {
    GgmlType::F32,  GgmlType::F16,  GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
    GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_K, GgmlType::BF16};

// nullopt for ids this reader does not know (IQ types, Q2_K, Q3_K, ...).
std::optional<GgmlType> ggml_type_from_id(uint32_t id);

// "F32", "Q4_K", ... as llama.cpp prints them.
std::string_view ggml_type_name(GgmlType t);
std::optional<GgmlType> parse_ggml_type(std::string_view name);

// Elements per block (1 for F32/F16/BF16) and bytes per block.
int64_t block_elems(GgmlType t);
int64_t block_bytes(GgmlType t);

// Bytes of one row of ne0 elements; nullopt when ne0 is negative, not a whole
// number of blocks, or the byte count would overflow int64.
std::optional<int64_t> row_bytes(GgmlType t, int64_t ne0);

inline bool is_quantized(GgmlType t) { return block_elems(t) > 1; }

}  // namespace graphc
