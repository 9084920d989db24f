#include "backends/reference/reference_kernels.h"

#include "ir/status.h"

namespace graphc {

const ReferenceKernels& ReferenceKernels::instance() {
  static const ReferenceKernels kernels = [] {
    ReferenceKernels k;
    register_elementwise_kernels(k);
    register_shape_kernels(k);
    register_reduction_kernels(k);
    register_linalg_kernels(k);
    register_generator_kernels(k);
    register_control_flow_kernels(k);
    register_global_kernels(k);
    register_fused_kernels(k);
    register_host_io_kernels(k);
    return k;
  }();
  return kernels;
}

void ReferenceKernels::add(std::string op_name, ReferenceKernel kernel) {
  if (!kernels_.emplace(op_name, std::move(kernel)).second)
    throw GraphcError("reference kernel for '" + op_name + "' registered twice");
}

const ReferenceKernel* ReferenceKernels::find(std::string_view op_name) const {
  auto it = kernels_.find(op_name);
  return it == kernels_.end() ? nullptr : &it->second;
}

int64_t broadcast_source_index(const std::vector<int64_t>& out_index, const std::vector<int64_t>& in_shape) {
  const size_t offset = out_index.size() - in_shape.size();
  int64_t flat = 0;
  for (size_t d = 0; d < in_shape.size(); ++d) {
    const int64_t i = in_shape[d] == 1 ? 0 : out_index[d + offset];
    flat = flat * in_shape[d] + i;
  }
  return flat;
}

bool next_index(std::vector<int64_t>& index, const std::vector<int64_t>& shape) {
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    if (++index[d] < shape[d]) return true;
    index[d] = 0;
  }
  return false;
}

}  // namespace graphc
