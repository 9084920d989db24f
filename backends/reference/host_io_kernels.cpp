// Reference semantics of the host I/O ops (ir/ops/host_io.cpp).
#include "backends/reference/reference_kernels.h"

namespace graphc {

void register_host_io_kernels(ReferenceKernels& k) {
  k.add("emit", [](const Op& op, const Inputs& in, ReferenceContext& ctx) -> KernelResults {
    HostTensor answer(DType::boolean, {});
    answer.set_int(0, ctx.emit(op.attr_string("channel"), in[0]) ? 1 : 0);
    return answer;
  });
}

}  // namespace graphc
