// Lowerings of the linalg ops (ir/ops/linalg.cpp) to kernel templates.
#include "codegen/kernel_call.h"

namespace graphc {

void register_linalg_lowerings(KernelLowerings& l) {}

}  // namespace graphc
