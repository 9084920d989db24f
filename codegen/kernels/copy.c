/* Byte copies split into work items: the runtime's copies of values into
 * state and loop-carried buffers go through this template like any kernel. */
#include "codegen/kernels/kernel_abi.h"

/* Copies item i (bytes [i * item_bytes, min((i + 1) * item_bytes, total))). */
GK_TEMPLATE void gk_copy_bytes(uint8_t *dst, const uint8_t *src, int64_t item_bytes, int64_t total, int64_t begin,
                               int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const int64_t from = i * item_bytes;
    const int64_t n = from + item_bytes <= total ? item_bytes : total - from;
    __builtin_memcpy(dst + from, src + from, (size_t)n);
  }
}
