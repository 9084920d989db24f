// Measures the FMA peak and the STREAM-like bandwidths (see machine_peaks.h).
//
// The timing scheme is shared: `threads` threads start together at a
// barrier, each runs its share, and the time is taken from leaving the first
// barrier to leaving the second. Thread creation stays outside the timed
// region, and the best of several repetitions is kept, because on a shared
// machine interference only ever makes a run slower.
#include "bench/machine_peaks.h"

#include <immintrin.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "runtime/page_memory.h"

namespace graphc::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Runs body(thread) `reps` times on `threads` threads (the caller is thread
// 0) and returns the shortest repetition's wall time in seconds.
double best_seconds_on_threads(int threads, int reps, const std::function<void(int)>& body) {
  if (threads < 1) throw std::invalid_argument("threads must be >= 1");
  std::barrier sync(threads);
  std::vector<double> seconds(reps);
  auto run = [&](int t) {
    for (int r = 0; r < reps; ++r) {
      sync.arrive_and_wait();
      const auto start = Clock::now();
      body(t);
      sync.arrive_and_wait();
      if (t == 0) seconds[r] = std::chrono::duration<double>(Clock::now() - start).count();
    }
  };
  std::vector<std::thread> others;
  for (int t = 1; t < threads; ++t) others.emplace_back(run, t);
  run(0);
  for (auto& th : others) th.join();
  return *std::min_element(seconds.begin(), seconds.end());
}

// ---------------------------------------------------------------------------
// FMA peak
// ---------------------------------------------------------------------------

// An FMA has a latency of 4-5 cycles and up to two issue per cycle, so a core
// needs at least 8-10 independent dependency chains to keep its FMA units
// full; 12 covers every current x86 core and still fits the 16 registers of
// AVX2 next to the two constant operands. Each chain computes
// acc = acc * a + b with a just below 1, which converges instead of
// overflowing or going denormal (denormals would slow some cores down).
constexpr int kChains = 12;
constexpr float kMul = 0.99999994f;
constexpr float kAdd = 1e-7f;

__attribute__((target("avx512f"))) float fma_chains_avx512(int64_t iterations) {
  __m512 acc[kChains];
  for (int k = 0; k < kChains; ++k) acc[k] = _mm512_set1_ps(0.5f + 0.01f * k);
  const __m512 a = _mm512_set1_ps(kMul), b = _mm512_set1_ps(kAdd);
  for (int64_t i = 0; i < iterations; ++i) {
    for (int k = 0; k < kChains; ++k) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
  }
  __m512 sum = acc[0];
  for (int k = 1; k < kChains; ++k) sum = _mm512_add_ps(sum, acc[k]);
  // Summed through memory: GCC 12 warns inside _mm512_reduce_add_ps.
  float lanes[16];
  _mm512_storeu_ps(lanes, sum);
  float total = 0;
  for (float v : lanes) total += v;
  return total;
}

__attribute__((target("avx2,fma"))) float fma_chains_avx2(int64_t iterations) {
  __m256 acc[kChains];
  for (int k = 0; k < kChains; ++k) acc[k] = _mm256_set1_ps(0.5f + 0.01f * k);
  const __m256 a = _mm256_set1_ps(kMul), b = _mm256_set1_ps(kAdd);
  for (int64_t i = 0; i < iterations; ++i) {
    for (int k = 0; k < kChains; ++k) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
  }
  __m256 sum = acc[0];
  for (int k = 1; k < kChains; ++k) sum = _mm256_add_ps(sum, acc[k]);
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  float total = 0;
  for (float v : lanes) total += v;
  return total;
}

// Without FMA hardware: separate multiply and add, still 2 flops per step.
float fma_chains_scalar(int64_t iterations) {
  float acc[kChains];
  for (int k = 0; k < kChains; ++k) acc[k] = 0.5f + 0.01f * k;
  for (int64_t i = 0; i < iterations; ++i) {
    for (int k = 0; k < kChains; ++k) acc[k] = acc[k] * kMul + kAdd;
  }
  float total = 0;
  for (float v : acc) total += v;
  return total;
}

struct FmaPath {
  const char* isa;
  int lanes;
  float (*chains)(int64_t);
};

FmaPath fma_path() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return {"avx512f", 16, fma_chains_avx512};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return {"avx2+fma", 8, fma_chains_avx2};
  return {"scalar", 1, fma_chains_scalar};
}

// ---------------------------------------------------------------------------
// STREAM-like kernels
// ---------------------------------------------------------------------------

// Plain loops: -O3 vectorises the element-wise ones with the baseline ISA
// (SSE2), which is already several times faster than one core's share of
// DRAM bandwidth, so no run-time dispatch is needed here. Stores are normal
// (write-allocate) stores, as a compiler emits for STREAM's C code.
void copy(const float* __restrict a, float* __restrict c, size_t n) {
  for (size_t i = 0; i < n; ++i) c[i] = a[i];
}
void scale(const float* __restrict c, float* __restrict b, float s, size_t n) {
  for (size_t i = 0; i < n; ++i) b[i] = s * c[i];
}
void add(const float* __restrict a, const float* __restrict b, float* __restrict c, size_t n) {
  for (size_t i = 0; i < n; ++i) c[i] = a[i] + b[i];
}
void triad(const float* __restrict b, const float* __restrict c, float* __restrict a, float s, size_t n) {
  for (size_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
}

// A float sum does not vectorise without -ffast-math (the order of the
// additions would change), so the sum is written with explicit vectors and
// four independent accumulators; the result is only used to keep the loads.
using Vec8 = float __attribute__((vector_size(32)));
float read_sum(const float* a, size_t n) {
  Vec8 acc[4] = {};
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 4; ++k) {
      Vec8 v;
      std::memcpy(&v, a + i + 8 * k, sizeof v);
      acc[k] += v;
    }
  }
  Vec8 s = acc[0] + acc[1] + acc[2] + acc[3];
  float total = 0;
  for (int k = 0; k < 8; ++k) total += s[k];
  for (; i < n; ++i) total += a[i];
  return total;
}

using FloatArray = std::shared_ptr<float[]>;

// The largest cache level's size as the kernel reports it in sysfs (what
// lscpu prints). glibc's sysconf(_SC_LEVEL3_CACHE_SIZE) is the fallback only:
// in a VM it can report the host's whole cache (320 MiB for a 32 MiB L3 on
// the development machine).
size_t last_level_cache_bytes() {
  size_t best = 0;
  for (int index = 0; index < 8; ++index) {
    std::ifstream in("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/size");
    size_t value = 0;
    char unit = 0;
    if (!(in >> value)) continue;
    in >> unit;
    if (unit == 'K') value <<= 10;
    if (unit == 'M') value <<= 20;
    best = std::max(best, value);
  }
  if (best == 0) best = size_t(std::max(0L, sysconf(_SC_LEVEL3_CACHE_SIZE)));
  return best;
}

// Each array is 8x the last-level cache, between 128 MiB and 1 GiB, so almost
// nothing of a pass survives in cache for the next one.
size_t stream_array_bytes() {
  const size_t bytes = std::clamp(last_level_cache_bytes() * 8, size_t{128} << 20, size_t{1} << 30);
  return (bytes + 4095) / 4096 * 4096;
}

// In huge pages where the kernel has them, as the CPU backend places large
// weights (runtime/page_memory.h): the bound is what a stream can reach.
FloatArray alloc_floats(size_t n) {
  std::shared_ptr<void> pages = map_zero_pages(n * sizeof(float));
  return FloatArray(pages, static_cast<float*>(pages.get()));
}

// Thread t's slice [begin, end), cut at 64-byte boundaries.
std::pair<size_t, size_t> slice(size_t n, int threads, int t) {
  const size_t per = (n / threads + 15) / 16 * 16;
  const size_t begin = std::min(n, per * t);
  const size_t end = t == threads - 1 ? n : std::min(n, begin + per);
  return {begin, end};
}

int arrays_used(StreamKernel kernel) {
  switch (kernel) {
    case StreamKernel::kReadSum: return 1;
    case StreamKernel::kCopy: return 2;
    case StreamKernel::kScale: return 2;
    case StreamKernel::kAdd: return 3;
    case StreamKernel::kTriad: return 3;
  }
  return 3;
}

}  // namespace

double measure_fma_peak_gflops(int threads) {
  const FmaPath path = fma_path();
  // About 50 ms per repetition on a 3 GHz core with two FMA pipes.
  const int64_t iterations = path.lanes == 1 ? (int64_t{1} << 22) : (int64_t{1} << 23) * 16 / path.lanes;
  std::vector<float> sink(threads);
  const double seconds = best_seconds_on_threads(threads, 5, [&](int t) { sink[t] = path.chains(iterations); });
  volatile float keep = sink[0];  // the chains' results must look used
  (void)keep;
  const double flops = 2.0 * kChains * path.lanes * double(iterations) * threads;
  return flops / seconds * 1e-9;
}

std::string fma_peak_isa() { return fma_path().isa; }

const char* stream_kernel_name(StreamKernel kernel) {
  switch (kernel) {
    case StreamKernel::kCopy: return "copy";
    case StreamKernel::kScale: return "scale";
    case StreamKernel::kAdd: return "add";
    case StreamKernel::kTriad: return "triad";
    case StreamKernel::kReadSum: return "read_sum";
  }
  return "?";
}

StreamResult measure_stream(StreamKernel kernel, int threads) {
  const size_t bytes = stream_array_bytes();
  const size_t n = bytes / sizeof(float);
  const int used = arrays_used(kernel);
  FloatArray a = alloc_floats(n);
  FloatArray b = used >= 2 ? alloc_floats(n) : nullptr;
  FloatArray c = used >= 2 ? alloc_floats(n) : nullptr;
  // Touch every page from the thread that will use it, so the pages exist
  // (and sit on that thread's node on a NUMA machine) before timing starts.
  best_seconds_on_threads(threads, 1, [&](int t) {
    auto [begin, end] = slice(n, threads, t);
    std::fill(&a[begin], &a[end], 1.0f);
    if (b) std::fill(&b[begin], &b[end], 2.0f);
    if (c) std::fill(&c[begin], &c[end], 0.5f);
  });

  const float s = 3.0f;
  std::vector<float> sink(threads);
  const int reps = 10;
  const double seconds = best_seconds_on_threads(threads, reps, [&](int t) {
    auto [begin, end] = slice(n, threads, t);
    const size_t len = end - begin;
    switch (kernel) {
      case StreamKernel::kCopy: copy(&a[begin], &c[begin], len); break;
      case StreamKernel::kScale: scale(&c[begin], &b[begin], s, len); break;
      case StreamKernel::kAdd: add(&a[begin], &b[begin], &c[begin], len); break;
      case StreamKernel::kTriad: triad(&b[begin], &c[begin], &a[begin], s, len); break;
      case StreamKernel::kReadSum: sink[t] = read_sum(&a[begin], len); break;
    }
  });
  volatile float keep = sink[0] + (c ? c[n / 2] : 0.0f);
  (void)keep;

  StreamResult r;
  r.array_bytes = int64_t(n * sizeof(float));
  r.bytes_per_pass = r.array_bytes * used;
  r.gbs = double(r.bytes_per_pass) / seconds * 1e-9;
  r.repetitions = reps;
  return r;
}

double measure_read_bandwidth_gbs(int threads) { return measure_stream(StreamKernel::kReadSum, threads).gbs; }

const MachinePeaks& machine_peaks(int threads) {
  static std::mutex mutex;
  static std::map<int, MachinePeaks> measured;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = measured.find(threads);
  if (it != measured.end()) return it->second;
  MachinePeaks p;
  p.threads = threads;
  p.fma_gflops = measure_fma_peak_gflops(threads);
  p.read_gbs = measure_read_bandwidth_gbs(threads);
  p.fma_isa = fma_peak_isa();
  return measured.emplace(threads, p).first->second;
}

}  // namespace graphc::bench
