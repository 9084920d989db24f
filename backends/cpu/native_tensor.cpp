#include "backends/cpu/native_tensor.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include <sys/mman.h>

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
  if (size >= (size_t{1} << 20)) {
    // Large buffers (weights converted to f32, arenas, KV caches) come
    // straight from the kernel: zero pages that cost nothing until touched.
    // From 4 MiB on they start on a 2 MiB boundary and ask for transparent
    // huge pages. Why: a stream over 4 KiB pages faulted in one by one reads
    // scattered physical memory, and decode's weight streams ran 10-20%
    // slower from it than from huge pages (bench/RESULTS.md, "Physical
    // memory").
    constexpr size_t kHuge = size_t{2} << 20;
    const bool huge = size >= 2 * kHuge;
    const size_t reserved = huge ? size + kHuge : size;
    void* p = ::mmap(nullptr, reserved, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    void* start = p;
    if (huge) {
      start = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1));
      ::madvise(start, size, MADV_HUGEPAGE);  // advice only: 4 KiB pages if it fails
    }
    return std::shared_ptr<void>(start, [p, reserved](void*) { ::munmap(p, reserved); });
  }
  void* p = std::aligned_alloc(64, size);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, size);
  return std::shared_ptr<void>(p, std::free);
}

}  // namespace graphc
