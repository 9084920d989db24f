#include "ir/op_registry.h"

namespace graphc {

void register_generator_ops(OpRegistry& r) {}

}  // namespace graphc
