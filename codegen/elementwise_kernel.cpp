#include "codegen/elementwise_kernel.h"

#include <fmt/format.h>

#include <map>

#include "ir/block.h"
#include "ir/op_registry.h"

namespace graphc {
namespace {

// The right-aligned dim `d` (of the output's rank) of an input; 1 if absent.
int64_t aligned_dim(const BufferInfo& in, int out_rank, int d) {
  const int k = d - (out_rank - static_cast<int>(in.shape.size()));
  return k < 0 ? 1 : in.shape[k];
}

// How many trailing output dims form one row: the longest run (up to a size
// worth a vector loop and leaving rows to split) in which every input either
// has all of them or none of them.
int trailing_row_dims(const ElementwiseKernel& k) {
  const int rank = static_cast<int>(k.output.shape.size());
  int dims = 0;
  int64_t len = 1;
  std::vector<int> mode(k.inputs.size(), -1);  // -1 unknown, 0 broadcast, 1 full
  for (int d = rank - 1; d >= 0; --d) {
    const int64_t n = k.output.shape[d];
    if (dims > 0 && len * n > 16384) break;
    bool ok = true;
    std::vector<int> next = mode;
    for (size_t i = 0; i < k.inputs.size() && ok; ++i) {
      const int64_t in = aligned_dim(k.inputs[i], rank, d);
      const int m = (in == n && n != 1) ? 1 : (in == 1 && n != 1 ? 0 : mode[i]);
      if (mode[i] != -1 && m != -1 && m != mode[i]) ok = false;
      next[i] = m;
    }
    if (!ok) break;
    mode = next;
    len *= n;
    ++dims;
  }
  return dims;
}

}  // namespace

int ElementwiseKernel::row_dims() const { return trailing_row_dims(*this); }

int64_t ElementwiseKernel::row_len() const {
  const int rank = static_cast<int>(output.shape.size());
  int64_t len = 1;
  for (int d = rank - row_dims(); d < rank; ++d) len *= output.shape[d];
  return len;
}

int64_t ElementwiseKernel::rows() const {
  const int64_t len = row_len();
  return len == 0 ? 0 : output.numel() / len;
}

std::string ElementwiseKernel::key() const {
  std::string k = "elementwise(";
  auto shape = [](const BufferInfo& b) {
    return fmt::format("{}[{}]", dtype_name(b.dtype), fmt::join(b.shape, ","));
  };
  for (const BufferInfo& in : inputs) k += shape(in) + ";";
  k += "->" + shape(output) + "){";
  for (const Node& n : nodes) {
    k += fmt::format("{}:{}", n.op, dtype_name(n.dtype));
    if (n.op == "input") k += fmt::format("#{}", n.input);
    if (n.op == "constant") k += fmt::format("={:a}", n.value);
    if (!n.predicate.empty()) k += "." + n.predicate;
    k += fmt::format("({});", fmt::join(n.args, ","));
  }
  return k + "}";
}

Expected<ElementwiseKernel> elementwise_kernel_for(const LoweringContext& ctx) {
  const Op& op = ctx.op;
  ElementwiseKernel k;
  k.inputs = ctx.operands;
  if (ctx.results.size() != 1) return Error{op.name() + ": an elementwise kernel has one result"};
  k.output = ctx.results[0];
  for (const BufferInfo& in : k.inputs)
    if (in.packed) return Error{op.name() + ": elementwise ops do not read packed weights"};

  auto add_op = [&](const Op& inner, std::vector<int> args) -> Status {
    ElementwiseKernel::Node n;
    n.op = inner.name();
    n.dtype = inner.result(0)->dtype();
    n.args = std::move(args);
    if (n.op == "constant") {
      const Attribute& v = inner.attr("value");
      if (v.kind() == AttrKind::Int) n.value = static_cast<double>(v.as_int());
      else if (v.kind() == AttrKind::Float) n.value = v.as_float();
      else return Error{"fused_elementwise: a constant in the body must be a single number, got " + v.str()};
    } else if (!inner.def().is_elementwise) {
      return Error{op.name() + ": " + inner.name() + " is not an elementwise op"};
    }
    if (n.op == "compare") n.predicate = inner.attr_string("predicate");
    k.nodes.push_back(std::move(n));
    return {};
  };

  if (op.name() != "fused_elementwise") {
    std::vector<int> args;
    for (size_t i = 0; i < k.inputs.size(); ++i) {
      k.nodes.push_back({.op = "input", .dtype = k.inputs[i].dtype, .input = static_cast<int>(i)});
      args.push_back(static_cast<int>(i));
    }
    if (Status s = add_op(op, args); !s.ok()) return s.error();
    return k;
  }

  const Block& body = *op.region(0);
  std::map<const Value*, int> node_of;
  for (int i = 0; i < body.num_args(); ++i) {
    node_of[body.arg(i)] = static_cast<int>(k.nodes.size());
    k.nodes.push_back({.op = "input", .dtype = body.arg(i)->dtype(), .input = i});
  }
  for (const auto& inner : body.ops()) {
    std::vector<int> args;
    for (const Value* v : inner->operands()) args.push_back(node_of.at(v));
    if (inner->def().is_terminator) {
      // The yielded value becomes the last node (a copy if it is not already).
      if (args.at(0) != static_cast<int>(k.nodes.size()) - 1)
        k.nodes.push_back({.op = "copy", .args = {args[0]}, .dtype = k.nodes[args[0]].dtype});
      return k;
    }
    if (Status s = add_op(*inner, args); !s.ok()) return s.error();
    node_of[inner->result(0)] = static_cast<int>(k.nodes.size()) - 1;
  }
  return Error{"fused_elementwise: body has no yield"};
}

}  // namespace graphc
