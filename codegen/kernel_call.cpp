#include "codegen/kernel_call.h"

#include <fmt/format.h>

namespace graphc {

std::string KernelCall::key() const {
  std::string k = name + "(";
  for (size_t i = 0; i < args.size(); ++i) {
    const KernelArg& a = args[i];
    if (i) k += ",";
    switch (a.kind) {
      case KernelArg::Kind::Buffer: k += fmt::format("b{}", a.buffer); break;
      case KernelArg::Kind::I64: k += fmt::format("{}", a.i64); break;
      // Hex float: the key must tell apart values that print alike.
      case KernelArg::Kind::F32: k += fmt::format("{:a}", a.f32); break;
    }
  }
  return k + ")";
}

const KernelLowerings& KernelLowerings::instance() {
  static const KernelLowerings* registry = [] {
    auto* l = new KernelLowerings;
    register_shape_lowerings(*l);
    register_reduction_lowerings(*l);
    register_linalg_lowerings(*l);
    register_generator_lowerings(*l);
    register_fused_lowerings(*l);
    return l;
  }();
  return *registry;
}

void KernelLowerings::add(std::string op_name, Lowering lowering) { lowerings_[std::move(op_name)] = std::move(lowering); }

const Lowering* KernelLowerings::find(std::string_view op_name) const {
  auto it = lowerings_.find(op_name);
  return it == lowerings_.end() ? nullptr : &it->second;
}

}  // namespace graphc
