// Fuzzes GgufReader on arbitrary bytes: parsing must either fail with an
// Error or yield a reader whose every tensor can be viewed and dequantized
// without reading outside the buffer.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/gguf_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto reader = graphc::GgufReader::open_memory(std::vector<uint8_t>(data, data + size), "fuzz.gguf");
  if (!reader) return 0;
  for (const auto& [key, value] : reader->metadata()) {
    (void)reader->get_u32(key);
    (void)reader->get_f32(key);
    (void)reader->get_string(key);
    (void)reader->get_string_array(key);
    (void)reader->get_f32_array(key);
    (void)reader->get_i32_array(key);
  }
  for (const auto& t : reader->tensors()) {
    if (!reader->tensor(t.name)) __builtin_trap();
    // Bounded so a large (valid) zero-dimension trick cannot exhaust memory.
    if (t.n_elements <= (1 << 20) && !reader->dequantize_tensor(t.name)) __builtin_trap();
  }
  return 0;
}
