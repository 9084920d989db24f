// Lowerings of the fused ops (ir/ops/fused.cpp) to kernel templates.
#include "codegen/kernel_call.h"

namespace graphc {

void register_fused_lowerings(KernelLowerings& l) {}

}  // namespace graphc
