// Reference semantics of loop, if, call, the terminators and global access.
#include "backends/reference/reference_kernels.h"
#include "ir/status.h"

namespace graphc {
namespace {

std::vector<TensorPtr> shared(const Inputs& in, size_t from) { return {in.begin() + from, in.end()}; }

KernelResults run_loop(const Op& op, const Inputs& in, ReferenceContext& ctx) {
  const int64_t trip_count = in[0]->get_int(0);
  const bool has_exit = op.attr_bool("has_exit");
  std::vector<TensorPtr> carried = shared(in, 1);
  for (int64_t i = 0; i < trip_count; ++i) {
    HostTensor index(DType::i64, {});
    index.set_int(0, i);
    std::vector<TensorPtr> args{std::make_shared<const HostTensor>(std::move(index))};
    args.insert(args.end(), carried.begin(), carried.end());
    std::vector<TensorPtr> yielded = ctx.run_region(*op.region(0), std::move(args));
    const bool stop = has_exit && yielded[0]->get_int(0) != 0;
    carried.assign(yielded.begin() + (has_exit ? 1 : 0), yielded.end());
    if (stop) break;
  }
  return carried;
}

}  // namespace

void register_control_flow_kernels(ReferenceKernels& k) {
  k.add("loop", run_loop);
  k.add("if", [](const Op& op, const Inputs& in, ReferenceContext& ctx) -> KernelResults {
    return ctx.run_region(*op.region(in[0]->get_int(0) ? 0 : 1), {});
  });
  k.add("call", [](const Op& op, const Inputs& in, ReferenceContext& ctx) -> KernelResults {
    return ctx.call(op.attr("callee").as_symbol(), shared(in, 0));
  });
  // The interpreter reads terminator operands itself; these never run.
  auto terminator = [](const Op& op, const Inputs&, ReferenceContext&) -> KernelResults {
    throw GraphcError(op.name() + " executed as an ordinary op");
  };
  k.add("return", terminator);
  k.add("yield", terminator);
}

void register_global_kernels(ReferenceKernels& k) {
  k.add("weight", [](const Op& op, const Inputs&, ReferenceContext& ctx) -> KernelResults {
    return std::vector<TensorPtr>{ctx.weight(op.attr("name").as_symbol())};
  });
  k.add("state_get", [](const Op& op, const Inputs&, ReferenceContext& ctx) -> KernelResults {
    return std::vector<TensorPtr>{ctx.state_at_entry(op.attr("name").as_symbol())};
  });
  k.add("state_set", [](const Op& op, const Inputs& in, ReferenceContext& ctx) -> KernelResults {
    ctx.set_state(op.attr("name").as_symbol(), in[0]);
    return std::vector<TensorPtr>{};
  });
}

}  // namespace graphc
