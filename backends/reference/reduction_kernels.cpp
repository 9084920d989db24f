#include "backends/reference/reference_kernels.h"

namespace graphc {

void register_reduction_kernels(ReferenceKernels& k) {}

}  // namespace graphc
