// How an op becomes a kernel: a lowering looks at one op with concrete shapes
// and names a kernel template (codegen/kernels/) and the arguments to
// specialise it with. The JIT (codegen/jit_engine.h) turns that call into a
// compiled function; the runtime calls it over [0, extent) split into ranges.
//
// Lowerings are registered by op name, one file per op family
// (codegen/lower_<family>.cpp), mirroring ir/ops/. This header does not need
// LLVM, so lowerings are plain C++.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "codegen/cpu_features.h"
#include "ir/op.h"
#include "ir/status.h"
#include "runtime/ggml_type.h"

namespace graphc {

// One argument of a template call, before (begin, end).
struct KernelArg {
  enum class Kind { Buffer, I64, F32 };
  Kind kind = Kind::I64;
  int buffer = 0;  // Buffer: index into the kernel's buffer table (see KernelCall)
  int64_t i64 = 0;
  float f32 = 0;

  static KernelArg buf(int index) { return {Kind::Buffer, index, 0, 0}; }
  static KernelArg i(int64_t v) { return {Kind::I64, 0, v, 0}; }
  static KernelArg f(float v) { return {Kind::F32, 0, 0, v}; }
};

// A specialised kernel: template `name` called with `args` and then
// (begin, end). Buffers are numbered operands first (0..n-1, in op order),
// then results (n..n+m-1).
struct KernelCall {
  std::string name;
  std::vector<KernelArg> args;
  int64_t extent = 1;  // work items
  int64_t grain = 1;   // fewest work items worth a task of their own
  // When > 0, one more buffer (index operands + results) of this many bytes,
  // private to the launch, zero before its first call and kept between its
  // calls: what the template leaves there it must set back (e.g. counters).
  int64_t scratch_bytes = 0;

  // Text naming the specialised kernel: equal keys compile to one function.
  std::string key() const;
};

// One operand or result as the kernel sees it.
struct BufferInfo {
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  // Set when the buffer holds a weight in a checkpoint's block format (Q4_K,
  // Q8_0, ...) rather than `dtype` elements; rows are the last dim, each row
  // row_bytes(*packed, shape.back()) bytes.
  std::optional<GgmlType> packed;
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

struct LoweringContext {
  const Op& op;
  std::vector<BufferInfo> operands;
  std::vector<BufferInfo> results;
  const CpuFeatures& cpu;
};

using Lowering = std::function<Expected<KernelCall>(const LoweringContext&)>;

class KernelLowerings {
 public:
  static const KernelLowerings& instance();
  void add(std::string op_name, Lowering lowering);
  const Lowering* find(std::string_view op_name) const;

 private:
  std::map<std::string, Lowering, std::less<>> lowerings_;
};

// One registration function per family file.
void register_shape_lowerings(KernelLowerings& l);
void register_reduction_lowerings(KernelLowerings& l);
void register_linalg_lowerings(KernelLowerings& l);
void register_generator_lowerings(KernelLowerings& l);
void register_fused_lowerings(KernelLowerings& l);

}  // namespace graphc
