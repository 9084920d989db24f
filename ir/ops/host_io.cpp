// Talking to the host while a program runs: `emit` hands a value to the host
// (a generated token, a metric) the moment it is computed, so a long-running
// program (generation, training) streams its output instead of returning it
// at the end. The host answers with one bool, e.g. "a stop string appeared,
// stop generating", which the program can feed into a loop's exit condition.
#include "ir/op_registry.h"

namespace graphc {

void register_host_io_ops(OpRegistry& r) {
  r.add(OpDef{.name = "emit",
              .summary = "hands a value to the host on a named channel; returns the host's bool answer",
              .min_operands = 1,
              .max_operands = 1,
              .attrs = {{"channel", AttrKind::String, std::nullopt, "what the value is, e.g. \"token\""}},
              .has_side_effects = true,
              .infer = [](const Op&) -> Expected<std::vector<TensorType>> {
                return std::vector<TensorType>{TensorType(DType::boolean, {})};
              }});
}

}  // namespace graphc
