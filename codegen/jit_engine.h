// The LLVM JIT: compiles batches of kernels (template calls and elementwise
// expressions) into one LLVM module each, optimised at -O3 for the host CPU
// and loaded with ORC LLJIT. Compiled objects are cached on disk, keyed by a
// hash of the module's IR before optimisation, the kernel template library,
// the host CPU and its features, and the LLVM version, so compiling the same
// program again loads the object instead of optimising and compiling it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "codegen/elementwise_kernel.h"
#include "codegen/kernel_call.h"
#include "ir/status.h"

namespace graphc {

// Every kernel has this signature: run work items [begin, end).
using KernelFn = void (*)(void** buffers, int64_t begin, int64_t end);

using KernelSource = std::variant<KernelCall, ElementwiseKernel>;

struct JitCompileReport {
  bool cache_hit = false;
  double seconds = 0;
  std::string cache_key;
};

class JitEngine {
 public:
  // `cache_dir` empty: no disk cache.
  static Expected<std::unique_ptr<JitEngine>> create(const std::string& cache_dir);
  ~JitEngine();

  // Compiles the kernels as one module; returns their entry points in order.
  Expected<std::vector<KernelFn>> compile(const std::vector<KernelSource>& kernels,
                                          JitCompileReport* report = nullptr);

  // The LLVM IR of these kernels' module after optimisation (for dumps and tests).
  Expected<std::string> optimized_ir(const std::vector<KernelSource>& kernels);

  const std::string& host_cpu() const;

 private:
  JitEngine();
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace graphc
