// An elementwise kernel: a scalar expression evaluated at every element of
// its output, the inputs broadcast to the output's shape. One elementwise op
// (add, exp, compare, cast, ...) or a fused_elementwise region becomes one of
// these; codegen/emit_elementwise.cpp emits it directly as LLVM IR.
#pragma once

#include <string>
#include <vector>

#include "codegen/kernel_call.h"

namespace graphc {

struct ElementwiseKernel {
  struct Node {
    std::string op;          // an elementwise op name, "input" or "constant"
    std::vector<int> args;   // earlier nodes
    DType dtype = DType::f32;  // of this node's value
    int input = 0;           // "input": which input buffer
    double value = 0;        // "constant"
    std::string predicate;   // "compare"
  };
  std::vector<BufferInfo> inputs;  // buffers 0..n-1
  BufferInfo output;               // buffer n
  std::vector<Node> nodes;         // in evaluation order; the last is the result

  // The work split: the output is seen as [rows, row_len] with rows the work
  // items; every input is read at (row base + j * inner stride).
  int row_dims() const;  // how many trailing output dims make one row
  int64_t rows() const;
  int64_t row_len() const;

  std::string key() const;
};

// The kernel for an elementwise op or a fused_elementwise op, with concrete
// shapes; an error names the op and what is not supported.
Expected<ElementwiseKernel> elementwise_kernel_for(const LoweringContext& ctx);

}  // namespace graphc
