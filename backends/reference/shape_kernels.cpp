#include "backends/reference/reference_kernels.h"

namespace graphc {

void register_shape_kernels(ReferenceKernels& k) {}

}  // namespace graphc
