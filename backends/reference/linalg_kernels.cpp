#include "backends/reference/reference_kernels.h"

namespace graphc {

void register_linalg_kernels(ReferenceKernels& k) {}

}  // namespace graphc
