// Lowerings of the reduction ops (ir/ops/reduction.cpp) to kernel templates.
#include "codegen/kernel_call.h"

namespace graphc {

void register_reduction_lowerings(KernelLowerings& l) {}

}  // namespace graphc
