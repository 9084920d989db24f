// Fuzzes SafetensorsReader on arbitrary bytes: parsing must either fail with
// an Error or yield a reader whose tensors can all be viewed and, for the
// float dtypes, converted without reading outside the buffer.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/safetensors_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto reader = graphc::SafetensorsReader::open_memory(std::vector<uint8_t>(data, data + size), "fuzz.safetensors");
  if (!reader) return 0;
  for (const auto& t : reader->tensors()) {
    if (!reader->tensor(t.name)) __builtin_trap();
    const bool is_float = t.dtype == graphc::SafetensorsDType::F32 || t.dtype == graphc::SafetensorsDType::F16 ||
                          t.dtype == graphc::SafetensorsDType::BF16;
    if (t.n_elements <= (1 << 20) && reader->to_f32(t.name).ok() != is_float) __builtin_trap();
  }
  return 0;
}
