// The executor: runs compiled kernels with oneTBB. A kernel is a function over
// work items [begin, end); the executor splits [0, extent) into ranges of at
// least `grain` items across its threads, and runs a group of independent
// kernels (no data dependence, no shared memory) concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace graphc {

using KernelEntry = void (*)(void** buffers, int64_t begin, int64_t end);

struct KernelLaunch {
  KernelEntry fn = nullptr;
  std::vector<void*> buffers;  // operands, then results
  int64_t extent = 1;
  int64_t grain = 1;
};

class Executor {
 public:
  // threads <= 0: all hardware threads.
  explicit Executor(int threads);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  int threads() const;
  // Runs `body` inside this executor's thread pool (so nested parallelism
  // uses its threads and no more).
  void execute(const std::function<void()>& body);
  // Runs the launches concurrently and returns when all are done. Call it
  // from inside execute().
  void run_group(const std::vector<const KernelLaunch*>& group);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace graphc
