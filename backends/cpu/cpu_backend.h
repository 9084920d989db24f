// The CPU backend: runs a module's functions as JIT-compiled kernels over one
// planned arena, executed by the TBB runtime. Same interface as the
// reference interpreter (backends/reference/interpreter.h), which is its
// oracle in tests.
//
// A function is compiled the first time it is run with a given set of symbol
// bindings (seq = 128, ...) or ahead of time with compile(): its ops are
// lowered to kernels (codegen/), identical kernels are compiled once, the
// object code is cached on disk when a cache directory is given, and the
// memory planner (passes/memory_plan.h) places every value.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ir/module.h"
#include "ir/status.h"
#include "ir/type.h"
#include "runtime/ggml_type.h"
#include "runtime/host_tensor.h"

namespace graphc {

struct CpuBackendOptions {
  int threads = 0;         // worker threads; 0 = all hardware threads
  std::string cache_dir;   // on-disk object cache; empty = compile every time
  bool profile = false;    // time every kernel launch (profile_report())
};

// A weight's bytes as a kernel reads them: the IR dtype's native layout
// (float, uint16 bf16/f16, int32, int64, uint8 bool) or, with `packed`, rows
// of a checkpoint's block format. `data` must stay valid while `owner` lives:
// point it into a memory-mapped checkpoint to use the weight without a copy.
struct WeightData {
  const void* data = nullptr;
  std::optional<GgmlType> packed;
  std::shared_ptr<const void> owner;
};

// What compiling cost and produced, summed over everything compiled so far.
struct CompileStats {
  int functions = 0;       // (function, bindings) pairs compiled
  int kernels = 0;         // kernel launches in the compiled programs
  int unique_kernels = 0;  // distinct specialised kernels
  int cache_hits = 0;      // JIT modules loaded from the object cache
  int cache_misses = 0;
  double seconds = 0;      // wall time in compile()
  int64_t arena_bytes = 0;        // the largest arena of any compiled function
  int64_t lower_bound_bytes = 0;  // its lower bound
};

class CpuBackend {
 public:
  using WeightProvider = std::function<Expected<WeightData>(const Global&)>;

  explicit CpuBackend(const Module& module, CpuBackendOptions options = {});
  ~CpuBackend();
  CpuBackend(const CpuBackend&) = delete;
  CpuBackend& operator=(const CpuBackend&) = delete;

  // Binds a weight to a copy of `value` in its native layout.
  void set_weight(const std::string& name, const HostTensor& value);
  void set_weight_data(const std::string& name, WeightData data);
  // Asked for each weight the first time a compiled program needs it.
  void set_weight_provider(WeightProvider provider);

  // Receives what `emit` ops hand out, in program order; its answer is the
  // op's result (the same contract as the reference interpreter's).
  using EmitHandler = std::function<bool(const std::string& channel, const HostTensor& value)>;
  void set_emit_handler(EmitHandler handler);

  // State globals start as zeros of their declared type.
  void set_state(const std::string& name, const HostTensor& value);
  HostTensor state(const std::string& name);

  // Compiles `function` for these symbol bindings ahead of the first run.
  Status compile(const std::string& function, const SymbolBindings& bindings = {});
  Expected<std::vector<HostTensor>> run(const std::string& function, const std::vector<HostTensor>& args);

  const CompileStats& stats() const;
  // The memory plan report of a compiled function (text), or an error if it
  // has not been compiled with these bindings.
  Expected<std::string> plan_report(const std::string& function, const SymbolBindings& bindings = {}) const;
  // With options.profile: time per kernel (op and type), most expensive
  // first, as a table.
  std::string profile_report(int top = 25) const;

  // Every compiled program's memory plan as one JSON object keyed by
  // "function;symbol=value".
  std::string plans_json() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace graphc
