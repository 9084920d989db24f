#include "runtime/executor.h"

#include <tbb/blocked_range.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

namespace graphc {
namespace {

void run_one(const KernelLaunch& k) {
  void** buffers = const_cast<void**>(k.buffers.data());
  if (k.extent <= k.grain) {
    // Not worth a task: run on this thread.
    if (k.extent > 0) k.fn(buffers, 0, k.extent);
    return;
  }
  // simple_partitioner: ranges of `grain` items, so a kernel's work is split
  // the same way on every run (kernels give the same bits for any split
  // anyway; this keeps the timing steady).
  tbb::parallel_for(
      tbb::blocked_range<int64_t>(0, k.extent, k.grain),
      [&](const tbb::blocked_range<int64_t>& r) { k.fn(buffers, r.begin(), r.end()); },
      tbb::simple_partitioner());
}

}  // namespace

class Executor::Impl {
 public:
  explicit Impl(int threads) : threads(threads > 0 ? threads : tbb::info::default_concurrency()), arena(this->threads) {}
  int threads;
  tbb::task_arena arena;
};

Executor::Executor(int threads) : impl_(std::make_unique<Impl>(threads)) {}
Executor::~Executor() = default;

int Executor::threads() const { return impl_->threads; }

void Executor::execute(const std::function<void()>& body) { impl_->arena.execute(body); }

void Executor::run_group(const std::vector<const KernelLaunch*>& group) {
  if (group.size() == 1) {
    run_one(*group[0]);
    return;
  }
  tbb::task_group tasks;
  for (const KernelLaunch* k : group) tasks.run([k] { run_one(*k); });
  tasks.wait();
}

}  // namespace graphc
