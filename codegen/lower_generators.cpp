// Lowerings of the generators ops (ir/ops/generators.cpp) to kernel templates.
#include "codegen/kernel_call.h"

namespace graphc {

void register_generator_lowerings(KernelLowerings& l) {}

}  // namespace graphc
