#include "backends/cpu/gemma3_weights.h"

#include <fmt/format.h>

#include "backends/cpu/native_tensor.h"

namespace graphc {
namespace {

// Formats the matmul, geglu and gather kernels read directly.
bool kernels_read(GgmlType t) {
  switch (t) {
    case GgmlType::F32:
    case GgmlType::BF16:
    case GgmlType::Q8_0:
    case GgmlType::Q5_0:
    case GgmlType::Q4_K:
    case GgmlType::Q6_K: return true;
    default: return false;
  }
}

}  // namespace

Expected<CpuBackend::WeightProvider> gemma3_cpu_weights(std::shared_ptr<const Gemma3Checkpoint> checkpoint,
                                                        const Module& module, WeightFormat format,
                                                        std::shared_ptr<WeightBindingStats> stats) {
  if (!checkpoint) return Error{"gemma3_cpu_weights: no checkpoint"};
  if (Status s = checkpoint->check_module(module); !s) return s.error();
  if (!stats) stats = std::make_shared<WeightBindingStats>();
  return CpuBackend::WeightProvider([checkpoint, format, stats](const Global& g) -> Expected<WeightData> {
    if (!is_static(g.type.shape) || g.type.dtype != DType::f32)
      return Error{fmt::format("{}: the module's weight '{}' is {}, expected f32 of static shape", checkpoint->path(),
                               g.name, g.type.str())};
    const std::vector<int64_t> shape = to_static(g.type.shape);
    if (format == WeightFormat::stored && shape.size() == 2) {
      auto stored = checkpoint->stored(g.name, shape);
      if (!stored) return stored.error();
      if (*stored && kernels_read((*stored)->type)) {
        const auto row = row_bytes((*stored)->type, shape[1]);
        if (row) {
          stats->mapped_bytes += *row * shape[0];
          // The checkpoint keeps the mapping alive.
          return WeightData{(*stored)->data,
                            (*stored)->type == GgmlType::F32 ? std::nullopt : std::optional((*stored)->type),
                            checkpoint};
        }
      }
    }
    auto t = checkpoint->load(g.name, shape);
    if (!t) return t.error();
    const int64_t bytes = native_bytes(DType::f32, shape);
    std::shared_ptr<void> memory = allocate_aligned(bytes);
    to_native(*t, memory.get());
    stats->copied_bytes += bytes;
    return WeightData{memory.get(), std::nullopt, memory};
  });
}

}  // namespace graphc
