#include "backends/reference/reference_kernels.h"

namespace graphc {

void register_generator_kernels(ReferenceKernels& k) {}

}  // namespace graphc
