#include "backends/cpu/native_tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "runtime/page_memory.h"

namespace graphc {

int64_t native_bytes(DType dtype, const std::vector<int64_t>& shape) {
  int64_t n = dtype_bytes(dtype);
  for (int64_t d : shape) n *= d;
  return n;
}

void to_native(const HostTensor& t, void* dst) {
  const int64_t n = t.numel();
  switch (t.dtype()) {
    case DType::f32: std::memcpy(dst, t.floats().data(), n * sizeof(float)); break;
    case DType::bf16:
      for (int64_t i = 0; i < n; ++i) static_cast<uint16_t*>(dst)[i] = float_to_bf16_bits(t.floats()[i]);
      break;
    case DType::f16:
      for (int64_t i = 0; i < n; ++i) static_cast<uint16_t*>(dst)[i] = float_to_f16_bits(t.floats()[i]);
      break;
    case DType::i32:
      for (int64_t i = 0; i < n; ++i) static_cast<int32_t*>(dst)[i] = static_cast<int32_t>(t.ints()[i]);
      break;
    case DType::i64: std::memcpy(dst, t.ints().data(), n * sizeof(int64_t)); break;
    case DType::boolean:
      for (int64_t i = 0; i < n; ++i) static_cast<uint8_t*>(dst)[i] = t.ints()[i] != 0;
      break;
    case DType::f64: std::memcpy(dst, t.doubles().data(), n * sizeof(double)); break;
  }
}

HostTensor from_native(DType dtype, const std::vector<int64_t>& shape, const void* src) {
  HostTensor t(dtype, shape);
  const int64_t n = t.numel();
  switch (dtype) {
    case DType::f32: std::memcpy(t.floats().data(), src, n * sizeof(float)); break;
    case DType::bf16:
      for (int64_t i = 0; i < n; ++i) t.floats()[i] = bf16_bits_to_float(static_cast<const uint16_t*>(src)[i]);
      break;
    case DType::f16:
      for (int64_t i = 0; i < n; ++i) t.floats()[i] = f16_bits_to_float(static_cast<const uint16_t*>(src)[i]);
      break;
    case DType::i32:
      for (int64_t i = 0; i < n; ++i) t.ints()[i] = static_cast<const int32_t*>(src)[i];
      break;
    case DType::i64: std::memcpy(t.ints().data(), src, n * sizeof(int64_t)); break;
    case DType::boolean:
      for (int64_t i = 0; i < n; ++i) t.ints()[i] = static_cast<const uint8_t*>(src)[i] != 0;
      break;
    case DType::f64: std::memcpy(t.doubles().data(), src, n * sizeof(double)); break;
  }
  return t;
}

std::shared_ptr<void> allocate_aligned(int64_t bytes) {
  const size_t size = (static_cast<size_t>(bytes) + 63) / 64 * 64 + 64;
  // Large buffers (weights converted to f32, arenas, KV caches) come
  // straight from the kernel, in huge pages where they are big enough.
  if (size >= (size_t{1} << 20)) return map_zero_pages(size);
  void* p = std::aligned_alloc(64, size);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, size);
  return std::shared_ptr<void>(p, std::free);
}

}  // namespace graphc
