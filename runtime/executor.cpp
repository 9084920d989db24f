#include "runtime/executor.h"

#include <tbb/blocked_range.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include <atomic>
#include <stdexcept>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GRAPHC_CPU_RELAX() _mm_pause()
#else
#define GRAPHC_CPU_RELAX() ((void)0)
#endif

namespace graphc {
namespace {

// Outside execute(): a group's launches one after another, each split with
// parallel_for. simple_partitioner: ranges of `grain` items, so a kernel's
// work is split the same way on every run (kernels give the same bits for
// any split anyway; this keeps the timing steady).
void run_with_parallel_for(const KernelLaunch& k) {
  void** buffers = const_cast<void**>(k.buffers.data());
  if (k.extent <= k.grain) {
    if (k.extent > 0) k.fn(buffers, 0, k.extent);
    return;
  }
  tbb::parallel_for(
      tbb::blocked_range<int64_t>(0, k.extent, k.grain),
      [&](const tbb::blocked_range<int64_t>& r) { k.fn(buffers, r.begin(), r.end()); },
      tbb::simple_partitioner());
}

// How a team member waits for the next job: decode publishes one every few
// microseconds, so it spins (pause) at first; then it yields its core each
// round, which lets an oversubscribed caller (more threads than cores) run;
// host work between kernels that takes longer finds it asleep.
constexpr int kSpinsBeforeYield = 1 << 11;  // ~20-60 us of pause
constexpr int kSpinsBeforeSleep = 1 << 13;

void wait_a_little(int spins) {
  if (spins < kSpinsBeforeYield) GRAPHC_CPU_RELAX();
  else std::this_thread::yield();
}

}  // namespace

// The threads of one execute() call stay together as a team until the body
// returns. Why not a parallel_for per kernel: oneTBB's workers leave the
// arena and sleep as soon as it runs out of tasks, and waking one costs tens
// of microseconds, as long as most of a decode step's kernels (measured on
// Gemma-3 270M: with 2 threads the per-layer kernels ran hardly faster than
// with 1). Team members are tasks of this arena that spin between jobs.
//
// A job is a group of launches cut into chunks; whoever is in the team
// (the caller always, helpers once they have started) claims chunks one at a
// time, so the job finishes even if a helper never arrives. The claim word
// holds the job's generation, its chunk count and the next chunk, so a
// helper still looking at a finished job can never claim a chunk of the
// next one.
class Team {
 public:
  explicit Team(int members) : members_(members) {}

  // Runs the group; returns when every chunk is done.
  void run(const std::vector<const KernelLaunch*>& group) {
    parts_.clear();
    int64_t total = 0;
    for (const KernelLaunch* k : group) {
      if (k->extent <= 0) continue;
      // A kernel of at most `grain` items is one chunk. Larger ones are cut
      // into a whole multiple of the team size, so members of equal speed
      // finish together, with chunks of at most `grain` items.
      int64_t chunks = (k->extent + k->grain - 1) / k->grain;
      if (chunks > 1) chunks = std::min((chunks + members_ - 1) / members_ * members_, k->extent);
      parts_.push_back({k, (k->extent + chunks - 1) / chunks, total});
      total += (k->extent + parts_.back().size - 1) / parts_.back().size;
    }
    if (total == 0) return;
    if (total == 1) {
      // Not worth waking anyone: run it here.
      const KernelLaunch& k = *parts_[0].launch;
      k.fn(const_cast<void**>(k.buffers.data()), 0, k.extent);
      return;
    }
    if (total >= kMaxChunks) throw std::runtime_error("executor: a kernel group of 2^20 chunks or more");
    generation_ = (generation_ + 1) & kGenMask;
    done_.store(0, std::memory_order_relaxed);
    claim_.store(pack(generation_, total, 0), std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) claim_.notify_all();
    work(generation_);
    // The last chunks are running elsewhere; yield rather than spin if that
    // takes long (more threads than cores).
    for (int spins = 0; done_.load(std::memory_order_acquire) != total; spins += spins < kSpinsBeforeYield)
      wait_a_little(spins);
  }

  // A helper's loop: join every job until stop().
  void serve() {
    uint64_t seen = generation_of(claim_.load(std::memory_order_acquire));
    for (;;) {
      uint64_t word = claim_.load(std::memory_order_acquire);
      for (int spins = 0; generation_of(word) == seen && !stopping_.load(std::memory_order_relaxed); ++spins) {
        if (spins < kSpinsBeforeSleep) {
          wait_a_little(spins);
        } else {
          sleepers_.fetch_add(1, std::memory_order_seq_cst);
          if (!stopping_.load(std::memory_order_seq_cst)) claim_.wait(word, std::memory_order_seq_cst);
          sleepers_.fetch_sub(1, std::memory_order_seq_cst);
          spins = 0;
        }
        word = claim_.load(std::memory_order_acquire);
      }
      if (stopping_.load(std::memory_order_acquire)) return;
      seen = generation_of(word);
      work(seen);
    }
  }

  // Ends serve(): the claim word moves to a new, empty generation, which also
  // wakes a member sleeping on the old value.
  void stop() {
    stopping_.store(true, std::memory_order_seq_cst);
    generation_ = (generation_ + 1) & kGenMask;
    claim_.store(pack(generation_, 0, 0), std::memory_order_seq_cst);
    claim_.notify_all();
  }

 private:
  struct Part {
    const KernelLaunch* launch;
    int64_t size;         // items per chunk
    int64_t first_chunk;  // chunk index of its first item
  };

  // claim word: generation (24 bits) | chunks (20 bits) | next chunk (20 bits)
  static constexpr uint64_t kGenMask = (uint64_t{1} << 24) - 1;
  static constexpr int64_t kMaxChunks = int64_t{1} << 20;
  static uint64_t pack(uint64_t gen, int64_t total, int64_t next) {
    return gen << 40 | uint64_t(total) << 20 | uint64_t(next);
  }
  static uint64_t generation_of(uint64_t w) { return w >> 40; }
  static int64_t total_of(uint64_t w) { return int64_t(w >> 20) & (kMaxChunks - 1); }
  static int64_t next_of(uint64_t w) { return int64_t(w) & (kMaxChunks - 1); }

  // Claims and runs chunks of job `gen` until none is left.
  void work(uint64_t gen) {
    uint64_t word = claim_.load(std::memory_order_acquire);
    for (;;) {
      if (generation_of(word) != gen || next_of(word) >= total_of(word)) return;
      if (!claim_.compare_exchange_weak(word, word + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      // The chunk is ours and its job cannot change until we report it done.
      const int64_t chunk = next_of(word);
      size_t p = 0;
      while (p + 1 < parts_.size() && parts_[p + 1].first_chunk <= chunk) ++p;
      const Part& part = parts_[p];
      const int64_t begin = (chunk - part.first_chunk) * part.size;
      const int64_t end = std::min(part.launch->extent, begin + part.size);
      part.launch->fn(const_cast<void**>(part.launch->buffers.data()), begin, end);
      done_.fetch_add(1, std::memory_order_acq_rel);
      word = claim_.load(std::memory_order_acquire);
    }
  }

  const int members_;
  std::vector<Part> parts_;  // written by run() only while no chunk is claimable
  uint64_t generation_ = 0;  // run()'s own count
  std::atomic<uint64_t> claim_{0};
  std::atomic<int64_t> done_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stopping_{false};
};

// The team of the execute() this thread is running, if any. Per thread, so
// that another thread calling execute() or run_group() on the same executor
// never drives this team (Team::run is for its one caller).
thread_local Team* t_team = nullptr;

class Executor::Impl {
 public:
  explicit Impl(int threads) : threads(threads > 0 ? threads : tbb::info::default_concurrency()), arena(this->threads) {}
  int threads;
  tbb::task_arena arena;
};

Executor::Executor(int threads) : impl_(std::make_unique<Impl>(threads)) {}
Executor::~Executor() = default;

int Executor::threads() const { return impl_->threads; }

void Executor::execute(const std::function<void()>& body) {
  impl_->arena.execute([&] {
    if (impl_->threads == 1 || t_team != nullptr) {
      body();
      return;
    }
    Team team(impl_->threads);
    tbb::task_group helpers;
    for (int i = 1; i < impl_->threads; ++i) helpers.run([&team] { team.serve(); });
    t_team = &team;
    struct Finish {
      Team& team;
      tbb::task_group& helpers;
      ~Finish() {
        t_team = nullptr;
        team.stop();
        helpers.wait();
      }
    } finish{team, helpers};
    body();
  });
}

void Executor::run_group(const std::vector<const KernelLaunch*>& group) {
  if (t_team != nullptr) {
    t_team->run(group);
    return;
  }
  if (impl_->threads == 1 || group.size() == 1) {
    for (const KernelLaunch* k : group) run_with_parallel_for(*k);
    return;
  }
  tbb::task_group tasks;
  for (const KernelLaunch* k : group) tasks.run([k] { run_with_parallel_for(*k); });
  tasks.wait();
}

}  // namespace graphc
