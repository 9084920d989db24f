// The machine's own limits, the denominators of every other benchmark's
// "fraction of roofline": fp32 FMA peak and the STREAM-like bandwidths
// (copy, scale, add, triad, read-sum) on 1 and 2 threads.
//
// Each benchmark runs its measurement once (the measurement already keeps the
// best of several repetitions inside, see machine_peaks.cpp) and reports it as
// a counter; Google Benchmark's own time column is the cost of measuring, not
// a result.
#include <benchmark/benchmark.h>

#include <fstream>
#include <string>
#include <thread>

#include "bench/machine_peaks.h"

namespace graphc::bench {
namespace {

void BM_FmaPeak(benchmark::State& state) {
  const int threads = int(state.range(0));
  double gflops = 0;
  for (auto _ : state) gflops = measure_fma_peak_gflops(threads);
  state.counters["GFLOP/s"] = gflops;
  state.counters["GFLOP/s/thread"] = gflops / threads;
  state.SetLabel(fma_peak_isa());
}

void BM_Stream(benchmark::State& state) {
  const auto kernel = StreamKernel(state.range(0));
  const int threads = int(state.range(1));
  StreamResult r;
  for (auto _ : state) r = measure_stream(kernel, threads);
  state.counters["GB/s"] = r.gbs;
  state.counters["array_MiB"] = double(r.array_bytes) / (1 << 20);
  state.SetLabel(stream_kernel_name(kernel));
}

void thread_counts(benchmark::internal::Benchmark* b) {
  for (int threads : {1, 2}) b->Arg(threads);
}

void stream_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"kernel", "threads"});
  for (auto kernel : {StreamKernel::kCopy, StreamKernel::kScale, StreamKernel::kAdd, StreamKernel::kTriad,
                      StreamKernel::kReadSum}) {
    for (int threads : {1, 2}) b->Args({int64_t(kernel), threads});
  }
}

BENCHMARK(BM_FmaPeak)->ArgName("threads")->Apply(thread_counts)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Stream)->Apply(stream_args)->Iterations(1)->Unit(benchmark::kMillisecond);

// "model name" from /proc/cpuinfo, for the context block of the output.
std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  }
  return "unknown";
}

}  // namespace
}  // namespace graphc::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("cpu_model", graphc::bench::cpu_model());
  benchmark::AddCustomContext("fma_isa", graphc::bench::fma_peak_isa());
  benchmark::AddCustomContext("hardware_threads", std::to_string(std::thread::hardware_concurrency()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
