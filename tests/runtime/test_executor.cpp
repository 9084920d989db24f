// The executor (runtime/executor.h): every work item of every launch runs
// exactly once, whatever the thread count, the grain and the grouping, with
// the team of execute() and with parallel_for outside it; many small jobs in
// a row (the decode pattern) never run an item of one job twice or in the
// next job.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "runtime/executor.h"

namespace graphc {
namespace {

// Buffers: [0] = the launch's counters (std::atomic<int>[extent]).
void count_items(void** buffers, int64_t begin, int64_t end) {
  auto* counts = static_cast<std::atomic<int>*>(buffers[0]);
  for (int64_t i = begin; i < end; ++i) counts[i].fetch_add(1, std::memory_order_relaxed);
}

// Like count_items, slowly, so that other members claim chunks meanwhile.
void count_items_slowly(void** buffers, int64_t begin, int64_t end) {
  count_items(buffers, begin, end);
  std::this_thread::sleep_for(std::chrono::microseconds(50));
}

struct Counted {
  std::vector<std::atomic<int>> counts;
  KernelLaunch launch;
  Counted(int64_t extent, int64_t grain, KernelEntry fn = count_items) : counts(extent) {
    for (auto& c : counts) c.store(0);
    launch.fn = fn;
    launch.buffers = {counts.data()};
    launch.extent = extent;
    launch.grain = grain;
  }
  // How many items ran a number of times other than `times`.
  int64_t wrong(int times) const {
    int64_t n = 0;
    for (const auto& c : counts) n += c.load() != times;
    return n;
  }
};

TEST(Executor, EveryItemOnceForAnyThreadsGrainAndGroup) {
  std::mt19937 rng(7);
  for (int threads : {1, 2, 3, 4}) {
    Executor ex(threads);
    for (int trial = 0; trial < 40; ++trial) {
      const int n = 1 + int(rng() % 4);
      std::vector<std::unique_ptr<Counted>> launches;
      for (int i = 0; i < n; ++i) {
        const int64_t extent = int64_t(rng() % 3000);  // 0 included: nothing to run
        const int64_t grain = 1 + int64_t(rng() % 500);
        launches.push_back(std::make_unique<Counted>(extent, grain, trial % 8 == 0 ? count_items_slowly : count_items));
      }
      std::vector<const KernelLaunch*> group;
      for (auto& l : launches) group.push_back(&l->launch);
      ex.execute([&] { ex.run_group(group); });
      ex.run_group(group);  // outside execute(): parallel_for
      for (size_t i = 0; i < launches.size(); ++i)
        EXPECT_EQ(launches[i]->wrong(2), 0) << "threads " << threads << " trial " << trial << " launch " << i
                                            << " extent " << launches[i]->launch.extent << " grain "
                                            << launches[i]->launch.grain;
    }
  }
}

TEST(Executor, ManySmallJobsInOneExecuteRunEachItemOnce) {
  // A decode step: hundreds of small kernels back to back, some single
  // chunks (run by the caller), some split, in one execute().
  for (int threads : {2, 4}) {
    Executor ex(threads);
    std::vector<std::unique_ptr<Counted>> launches;
    for (int i = 0; i < 600; ++i) launches.push_back(std::make_unique<Counted>(1 + i % 37, 1 + i % 5));
    ex.execute([&] {
      for (int round = 0; round < 3; ++round)
        for (auto& l : launches) ex.run_group({&l->launch});
    });
    for (size_t i = 0; i < launches.size(); ++i) EXPECT_EQ(launches[i]->wrong(3), 0) << "threads " << threads << " launch " << i;
  }
}

TEST(Executor, HelpersThatSleptWakeForTheNextJob) {
  // Host work longer than the helpers' spin between two kernels.
  Executor ex(2);
  Counted a(1000, 10), b(1000, 10);
  ex.execute([&] {
    ex.run_group({&a.launch});
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    ex.run_group({&b.launch});
  });
  EXPECT_EQ(a.wrong(1), 0);
  EXPECT_EQ(b.wrong(1), 0);
}

TEST(Executor, TwoCallersOnOneExecutorKeepTheirJobsApart) {
  // Each caller's run_group goes to its own team, never to the other's. Four
  // slots: both callers are inside the arena at once.
  Executor ex(4);
  std::vector<std::unique_ptr<Counted>> mine, theirs;
  for (int i = 0; i < 200; ++i) {
    mine.push_back(std::make_unique<Counted>(50 + i % 13, 7));
    theirs.push_back(std::make_unique<Counted>(50 + i % 11, 5));
  }
  auto caller = [&ex](std::vector<std::unique_ptr<Counted>>& launches) {
    ex.execute([&] {
      for (auto& l : launches) ex.run_group({&l->launch});
    });
  };
  std::thread other(caller, std::ref(theirs));
  caller(mine);
  other.join();
  for (size_t i = 0; i < mine.size(); ++i) EXPECT_EQ(mine[i]->wrong(1), 0) << "mine " << i;
  for (size_t i = 0; i < theirs.size(); ++i) EXPECT_EQ(theirs[i]->wrong(1), 0) << "theirs " << i;
}

TEST(Executor, AnExceptionInTheBodyStopsTheTeam) {
  Executor ex(2);
  Counted a(100, 10);
  EXPECT_THROW(ex.execute([&] {
    ex.run_group({&a.launch});
    throw std::runtime_error("host error");
  }),
               std::runtime_error);
  // The executor is usable afterwards.
  ex.execute([&] { ex.run_group({&a.launch}); });
  EXPECT_EQ(a.wrong(2), 0);
}

}  // namespace
}  // namespace graphc
