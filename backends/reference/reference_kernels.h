// Reference semantics of every op, in plain C++: the oracle for all other
// backends. Kernels are registered by op name, one file per op family
// (mirroring ir/ops/). Floating-point data is float; reductions and matmul
// accumulate in double.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ir/op.h"
#include "runtime/host_tensor.h"

namespace graphc {

// Values are shared, immutable tensors: a weight read or a captured value is
// never copied.
using TensorPtr = std::shared_ptr<const HostTensor>;

// What a kernel returns: its results, from tensors it made or shared ones.
struct KernelResults {
  std::vector<TensorPtr> values;
  KernelResults(HostTensor t) { values.push_back(std::make_shared<const HostTensor>(std::move(t))); }  // NOLINT
  KernelResults(std::vector<HostTensor> ts) {  // NOLINT
    for (HostTensor& t : ts) values.push_back(std::make_shared<const HostTensor>(std::move(t)));
  }
  KernelResults(std::vector<TensorPtr> ps) : values(std::move(ps)) {}  // NOLINT
};

// What a kernel may ask of the interpreter running it.
class ReferenceContext {
 public:
  virtual ~ReferenceContext() = default;
  // The concrete shape of result `i` of `op` under the current symbol bindings.
  virtual std::vector<int64_t> result_shape(const Op& op, int i) = 0;
  // Runs a region with the given block arguments; returns its yield operands.
  virtual std::vector<TensorPtr> run_region(const Block& region, std::vector<TensorPtr> args) = 0;
  virtual std::vector<TensorPtr> call(const std::string& function, std::vector<TensorPtr> args) = 0;
  virtual TensorPtr weight(const std::string& name) = 0;
  // The value of a state global when the current function call began.
  virtual TensorPtr state_at_entry(const std::string& name) = 0;
  // Becomes the state's value when the current function call returns.
  virtual void set_state(const std::string& name, TensorPtr value) = 0;
  // Hands a value to the host (the `emit` op); returns the host's answer.
  // Without a host listening, the answer is false.
  virtual bool emit(const std::string& channel, const TensorPtr& value) { return false; }
};

using Inputs = std::vector<TensorPtr>;
using ReferenceKernel = std::function<KernelResults(const Op& op, const Inputs& in, ReferenceContext& ctx)>;

class ReferenceKernels {
 public:
  static const ReferenceKernels& instance();
  void add(std::string op_name, ReferenceKernel kernel);
  const ReferenceKernel* find(std::string_view op_name) const;

 private:
  std::map<std::string, ReferenceKernel, std::less<>> kernels_;
};

void register_elementwise_kernels(ReferenceKernels& k);
void register_shape_kernels(ReferenceKernels& k);
void register_reduction_kernels(ReferenceKernels& k);
void register_linalg_kernels(ReferenceKernels& k);
void register_generator_kernels(ReferenceKernels& k);
void register_control_flow_kernels(ReferenceKernels& k);
void register_global_kernels(ReferenceKernels& k);
void register_fused_kernels(ReferenceKernels& k);
void register_host_io_kernels(ReferenceKernels& k);

// Shared helpers for kernels.
// Index of the element of `in` (of shape in_shape) that broadcasts to the
// element with multi-index `out_index` of a tensor of shape out_shape.
int64_t broadcast_source_index(const std::vector<int64_t>& out_index, const std::vector<int64_t>& in_shape);
// Advances a row-major multi-index; returns false after the last element.
bool next_index(std::vector<int64_t>& index, const std::vector<int64_t>& shape);

}  // namespace graphc
