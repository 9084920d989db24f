// The executor: runs compiled kernels on a oneTBB arena. A kernel is a
// function over work items [begin, end); the executor cuts [0, extent) into
// chunks of at most `grain` items shared out across its threads, and runs a
// group of independent kernels (no data dependence, no shared memory)
// concurrently. Inside execute() the arena's threads stay together as a team
// that spins between kernels (a decode step is hundreds of kernels of a few
// microseconds each); outside it each kernel is a parallel_for.
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
