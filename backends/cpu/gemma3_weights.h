// Gemma-3 checkpoint weights for the CPU backend: mapped from the file and
// computed on in their stored format where the kernels read it (no copy),
// or converted to f32 once.
#pragma once

#include <memory>

#include "backends/cpu/cpu_backend.h"
#include "runtime/gemma3_checkpoint.h"

namespace graphc {

enum class WeightFormat {
  f32,     // every weight dequantized to f32 (the reference's numbers)
  stored,  // projections and the embedding in the checkpoint's own format
};

struct WeightBindingStats {
  int64_t mapped_bytes = 0;  // used in place from the mapping
  int64_t copied_bytes = 0;  // converted into memory of their own
};

// A provider for CpuBackend::set_weight_provider. Every weight of `module` is
// checked against the checkpoint first (a mismatch is one clear error here).
// `stats`, when given, counts what each bound weight cost.
Expected<CpuBackend::WeightProvider> gemma3_cpu_weights(std::shared_ptr<const Gemma3Checkpoint> checkpoint,
                                                        const Module& module, WeightFormat format,
                                                        std::shared_ptr<WeightBindingStats> stats = nullptr);

}  // namespace graphc
