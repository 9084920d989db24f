// Dequantization of ggml tensor rows to float, one function per block format
// (layouts and formulas in gemma3.md §4). Used to load norm vectors and
// embeddings, to check quantized kernels against, and to convert a quantized
// checkpoint for training. Block data may be unaligned; nothing here assumes
// more than byte alignment.
#pragma once

#include <cstdint>

#include "ir/status.h"
#include "runtime/ggml_type.h"

namespace graphc {

// Every GgmlType can be dequantized (Q8_K included, though GGUF files only
// use it for activations).
bool can_dequantize(GgmlType t);

// Decodes n elements starting at src into dst. `src` must hold
// row_bytes(type, n) bytes. Fails (without writing) when n is negative or not
// a whole number of blocks.
Status dequantize_row(GgmlType type, const void* src, float* dst, int64_t n);

}  // namespace graphc
