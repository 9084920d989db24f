#include "ir/op_registry.h"

namespace graphc {

void register_linalg_ops(OpRegistry& r) {}

}  // namespace graphc
