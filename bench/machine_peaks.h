// The machine's measured limits: fp32 FMA throughput and memory bandwidth.
//
// Every benchmark prints its speed as a fraction of these, so a figure says
// how close to the roofline it is on the machine it ran on rather than
// against a datasheet number. Both are measured, not looked up: the clock
// under load, the FMA width the core really has (AVX-512 may be split into
// two 256-bit halves), the memory channels populated and whoever else shares
// the machine all show up in the measurement.
#pragma once

#include <cstdint>
#include <string>

namespace graphc::bench {

// fp32 multiply-adds per second on `threads` threads, in GFLOP/s (an FMA
// counts as 2 flops). Uses AVX-512 when the CPU has it, else AVX2+FMA, else
// plain scalar code; the choice is made at run time.
double measure_fma_peak_gflops(int threads);

// The instruction set measure_fma_peak_gflops uses on this CPU:
// "avx512f", "avx2+fma" or "scalar".
std::string fma_peak_isa();

// STREAM-like kernels over float arrays several times larger than the
// last-level cache, each thread on its own contiguous slice. Bytes are
// counted as STREAM counts them: the arrays the kernel names, once each,
// without the extra read a store to an uncached line costs (so copy, scale,
// add and triad understate the traffic the memory really sees by up to a
// third; read-sum has no stores and is the bound that matters for decode,
// which streams weights).
enum class StreamKernel {
  kCopy,     // c[i] = a[i]               8 bytes per element
  kScale,    // b[i] = s * c[i]           8
  kAdd,      // c[i] = a[i] + b[i]       12
  kTriad,    // a[i] = b[i] + s * c[i]   12
  kReadSum,  // sum += a[i]               4
};

const char* stream_kernel_name(StreamKernel kernel);

struct StreamResult {
  double gbs = 0;                 // best repetition, 1e9 bytes per second
  int64_t bytes_per_pass = 0;     // bytes counted in one pass over the arrays
  int64_t array_bytes = 0;        // size of each array
  int repetitions = 0;
};

StreamResult measure_stream(StreamKernel kernel, int threads);

// Streaming read bandwidth (read-sum), GB/s, best of several passes.
double measure_read_bandwidth_gbs(int threads);

// Both limits for one thread count, measured on first use and then cached for
// the life of the process (measuring takes about a second), so a benchmark
// program can ask for them in every benchmark without paying again.
struct MachinePeaks {
  int threads = 0;
  double fma_gflops = 0;
  double read_gbs = 0;
  std::string fma_isa;
};

const MachinePeaks& machine_peaks(int threads);

}  // namespace graphc::bench
