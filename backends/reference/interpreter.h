// The reference interpreter: runs any verified module op by op in plain C++.
// It is the oracle every other backend and every pass is tested against.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "backends/reference/reference_kernels.h"
#include "ir/module.h"
#include "ir/status.h"

namespace graphc {

class ReferenceInterpreter {
 public:
  // Produces a weight's value the first time a program reads it.
  using WeightLoader = std::function<Expected<HostTensor>(const Global&)>;

  explicit ReferenceInterpreter(const Module& module);

  void set_weight(const std::string& name, HostTensor value);
  void set_weight_loader(WeightLoader loader) { loader_ = std::move(loader); }

  // Receives what `emit` ops hand out, in program order; its answer is the
  // op's result.
  using EmitHandler = std::function<bool(const std::string& channel, const HostTensor& value)>;
  void set_emit_handler(EmitHandler handler) { emit_handler_ = std::move(handler); }

  // State globals start as zeros of their declared type.
  void set_state(const std::string& name, HostTensor value);
  const HostTensor& state(const std::string& name);

  // Runs a function. Errors (bad arguments, unbound weights, a kernel
  // failure) come back as one message naming the function and the op.
  Expected<std::vector<HostTensor>> run(const std::string& function, const std::vector<HostTensor>& args);

 private:
  class Call;
  friend class Call;
  TensorPtr weight(const std::string& name);
  TensorPtr state_ptr(const std::string& name);
  std::vector<TensorPtr> call(const std::string& function, std::vector<TensorPtr> args, int depth);

  const Module& module_;
  std::map<std::string, TensorPtr> weights_;
  std::map<std::string, TensorPtr> state_;
  std::vector<std::string> computing_;  // derived weights whose initializer is running
  WeightLoader loader_;
  EmitHandler emit_handler_;
};

}  // namespace graphc
