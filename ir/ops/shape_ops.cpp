#include "ir/op_registry.h"

namespace graphc {

void register_shape_ops(OpRegistry& r) {}

}  // namespace graphc
