// Emitters of LLVM IR for kernels, used by the JIT engine. Internal to
// codegen/: the only header outside jit_engine.cpp that includes LLVM.
#pragma once

#include <string>

#include <llvm/IR/Function.h>
#include <llvm/IR/Module.h>

#include "codegen/elementwise_kernel.h"

namespace graphc {

// Defines `void name(ptr buffers, i64 begin, i64 end)` computing rows
// [begin, end) of the kernel's output (ElementwiseKernel::rows()).
llvm::Function* emit_elementwise(llvm::Module& module, const ElementwiseKernel& kernel, const std::string& name);

}  // namespace graphc
