// Tensors in the layout kernels read: f32 as float, bf16/f16 as their 16-bit
// patterns, i32 as int32_t, i64 as int64_t, bool as one byte (0 or 1).
// HostTensor (float or int64 per element) converts to and from it at the
// backend's boundary.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/host_tensor.h"

namespace graphc {

int64_t native_bytes(DType dtype, const std::vector<int64_t>& shape);
void to_native(const HostTensor& t, void* dst);
HostTensor from_native(DType dtype, const std::vector<int64_t>& shape, const void* src);

// Zero-filled memory aligned for vector loads (64 bytes).
std::shared_ptr<void> allocate_aligned(int64_t bytes);

}  // namespace graphc
