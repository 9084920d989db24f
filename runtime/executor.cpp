#include "runtime/executor.h"

#include <tbb/blocked_range.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include <atomic>
#include <memory>
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
// A job is a group of launches cut into chunks, and the chunks into one
// contiguous run per member (its lane). A member takes its own lane's chunks
// from the front, in order, and then steals from the back of the others'
// lanes, so the job finishes even if a helper never arrives or a core is
// taken away. Why lanes rather than one shared next-chunk counter: decode's
// weight streams ran 6-14% slower when each thread read every other chunk
// instead of one contiguous run (the hardware prefetcher restarts at each
// jump; measured on the 178 MB Q8_0 LM head and a 671 MB f32 one). Each lane
// word holds the job's generation, so a member still looking at a finished
// job can never claim a chunk of the next one.
class Team {
 public:
  explicit Team(int members) : members_(members), lanes_(new Lane[members]) {}

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
    const uint64_t gen = next_generation();
    done_.store(0, std::memory_order_relaxed);
    for (int m = 0; m < members_; ++m)
      lanes_[m].word.store(pack(gen, total * m / members_, total * (m + 1) / members_), std::memory_order_relaxed);
    // Publishing the generation publishes the lanes with it.
    job_.store(gen, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) job_.notify_all();
    work(gen, 0);
    // The last chunks are running elsewhere; yield rather than spin if that
    // takes long (more threads than cores).
    for (int spins = 0; done_.load(std::memory_order_acquire) != total; spins += spins < kSpinsBeforeYield)
      wait_a_little(spins);
  }

  // Member `member`'s loop (1 .. members - 1; the caller is 0): join every
  // job until stop().
  void serve(int member) {
    uint64_t seen = job_.load(std::memory_order_acquire);
    for (;;) {
      uint64_t gen = job_.load(std::memory_order_acquire);
      for (int spins = 0; gen == seen && !stopping_.load(std::memory_order_relaxed); ++spins) {
        if (spins < kSpinsBeforeSleep) {
          wait_a_little(spins);
        } else {
          sleepers_.fetch_add(1, std::memory_order_seq_cst);
          if (!stopping_.load(std::memory_order_seq_cst)) job_.wait(gen, std::memory_order_seq_cst);
          sleepers_.fetch_sub(1, std::memory_order_seq_cst);
          spins = 0;
        }
        gen = job_.load(std::memory_order_acquire);
      }
      if (stopping_.load(std::memory_order_acquire)) return;
      seen = gen;
      work(seen, member);
    }
  }

  // Ends serve(): a new generation with no job wakes a member sleeping on
  // the old one.
  void stop() {
    stopping_.store(true, std::memory_order_seq_cst);
    job_.store(next_generation(), std::memory_order_seq_cst);
    job_.notify_all();
  }

 private:
  struct Part {
    const KernelLaunch* launch;
    int64_t size;         // items per chunk
    int64_t first_chunk;  // chunk index of its first item
  };

  // Lane word: generation (24 bits) | front (20 bits) | back (20 bits); the
  // lane's unclaimed chunks are [front, back).
  static constexpr uint64_t kGenMask = (uint64_t{1} << 24) - 1;
  static constexpr int64_t kMaxChunks = int64_t{1} << 20;
  static uint64_t pack(uint64_t gen, int64_t front, int64_t back) {
    return gen << 40 | uint64_t(front) << 20 | uint64_t(back);
  }
  static uint64_t generation_of(uint64_t w) { return w >> 40; }
  // Only run() and stop() publish jobs, both on the caller's thread.
  uint64_t next_generation() const { return (job_.load(std::memory_order_relaxed) + 1) & kGenMask; }
  static int64_t front_of(uint64_t w) { return int64_t(w >> 20) & (kMaxChunks - 1); }
  static int64_t back_of(uint64_t w) { return int64_t(w) & (kMaxChunks - 1); }

  struct alignas(64) Lane {  // one cache line each: members claim without sharing one
    std::atomic<uint64_t> word{0};
  };

  // Takes one chunk of job `gen` from `lane`: its front (the owner) or its
  // back (a thief). -1 when the lane is empty or belongs to another job.
  int64_t claim(Lane& lane, uint64_t gen, bool front) {
    uint64_t w = lane.word.load(std::memory_order_acquire);
    for (;;) {
      const int64_t f = front_of(w), b = back_of(w);
      if (generation_of(w) != gen || f >= b) return -1;
      const uint64_t next = front ? pack(gen, f + 1, b) : pack(gen, f, b - 1);
      if (lane.word.compare_exchange_weak(w, next, std::memory_order_acq_rel, std::memory_order_acquire))
        return front ? f : b - 1;
    }
  }

  // Runs chunk `chunk` of the current job (it cannot change until reported).
  void run_chunk(int64_t chunk) {
    size_t p = 0;
    while (p + 1 < parts_.size() && parts_[p + 1].first_chunk <= chunk) ++p;
    const Part& part = parts_[p];
    const int64_t begin = (chunk - part.first_chunk) * part.size;
    const int64_t end = std::min(part.launch->extent, begin + part.size);
    part.launch->fn(const_cast<void**>(part.launch->buffers.data()), begin, end);
    done_.fetch_add(1, std::memory_order_acq_rel);
  }

  // Member `member`'s share of job `gen`: its own lane front to back, then
  // the others' lanes from their backs, until nothing is left.
  void work(uint64_t gen, int member) {
    for (int64_t c; (c = claim(lanes_[member], gen, true)) >= 0;) run_chunk(c);
    for (int k = 1; k < members_; ++k) {
      Lane& victim = lanes_[(member + k) % members_];
      for (int64_t c; (c = claim(victim, gen, false)) >= 0;) run_chunk(c);
    }
  }

  const int members_;
  std::unique_ptr<Lane[]> lanes_;
  std::vector<Part> parts_;  // written by run() only while no chunk is claimable
  std::atomic<uint64_t> job_{0};  // the generation of the latest job
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
    for (int i = 1; i < impl_->threads; ++i) helpers.run([&team, i] { team.serve(i); });
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
