// Lowerings of the shape ops (ir/ops/shape.cpp) to kernel templates.
#include "codegen/kernel_call.h"

namespace graphc {

void register_shape_lowerings(KernelLowerings& l) {}

}  // namespace graphc
