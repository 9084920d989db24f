// The matrix-product kernels (codegen/kernels/matvec.c, gemm.c) compiled by
// the JIT exactly as the CPU backend compiles them (lowering -> KernelCall ->
// JitEngine), at the Gemma-3 270M shapes, with OpenBLAS on the same shapes
// as the baseline. 1 and 2 threads: the work items are split in chunks of the
// lowering's grain over this thread and one spinning helper thread.
//
// Matvec (decode, M = 1): GB/s = weight bytes read per second. Each weight
// has enough copies to exceed the 32 MiB L3 several times and the benchmark
// walks through them, so the bytes come from DRAM as they do in decode (the
// 270M model's weights are 246 MB to 1 GB).
// GEMM (prefill, M = 128 tokens): GFLOP/s = 2 M N K per second.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "codegen/cpu_features.h"
#include "codegen/jit_engine.h"
#include "codegen/kernel_call.h"
#include "ir/dtype.h"
#include "ir/parser.h"
#include "runtime/ggml_type.h"

namespace graphc {
namespace {

// One helper thread that runs a job when the generation counter moves; the
// caller runs its own share meanwhile. Spinning keeps the start-up cost far
// below the ~10 us of the smallest kernel.
class TwoThreads {
 public:
  TwoThreads() : worker_([this] { loop(); }) {}
  ~TwoThreads() {
    stop_ = true;
    generation_.fetch_add(1);
    worker_.join();
  }
  void run(const std::function<void()>& mine, const std::function<void()>& theirs) {
    job_ = &theirs;
    const int g = generation_.fetch_add(1) + 1;
    mine();
    while (done_.load(std::memory_order_acquire) != g) __builtin_ia32_pause();
  }

 private:
  void loop() {
    int seen = 0;
    for (;;) {
      int g;
      while ((g = generation_.load(std::memory_order_acquire)) == seen) __builtin_ia32_pause();
      if (stop_) return;
      (*job_)();
      seen = g;
      done_.store(g, std::memory_order_release);
    }
  }
  std::atomic<int> generation_{0}, done_{0};
  std::atomic<bool> stop_{false};
  const std::function<void()>* job_ = nullptr;
  std::thread worker_;
};

TwoThreads& helper() {
  static TwoThreads t;
  return t;
}

JitEngine& jit() {
  static std::unique_ptr<JitEngine> engine = [] {
    auto e = JitEngine::create("");
    if (!e.ok()) throw std::runtime_error(e.error().message);
    return std::move(*e);
  }();
  return *engine;
}

// Lowers a one-op IR function with the operand layouts given, compiles it.
struct Compiled {
  KernelFn fn = nullptr;
  KernelCall call;
};

Compiled compile_op(const std::string& op_text, std::vector<BufferInfo> operands, std::vector<BufferInfo> results,
                    const std::string& op_name = "matmul") {
  auto module = parse_module(op_text, "<bench>");
  if (!module.ok()) throw std::runtime_error(module.error().message);
  const Op* op = nullptr;
  for (const auto& o : (*module)->function("f")->body()->ops())
    if (o->name() == op_name) op = o.get();
  LoweringContext ctx{*op, std::move(operands), std::move(results), host_cpu_features()};
  auto call = (*KernelLowerings::instance().find(op_name))(ctx);
  if (!call.ok()) throw std::runtime_error(call.error().message);
  auto fns = jit().compile({*call});
  if (!fns.ok()) throw std::runtime_error(fns.error().message);
  return {(*fns)[0], *call};
}

// Work items [0, extent) in chunks of `grain`, on 1 or 2 threads (halves).
void run_kernel(const Compiled& k, void** buffers, int threads) {
  const int64_t extent = k.call.extent, grain = std::max<int64_t>(1, k.call.grain);
  auto chunks = [&](int64_t from, int64_t to) {
    for (int64_t b = from; b < to; b += grain) k.fn(buffers, b, std::min(to, b + grain));
  };
  if (threads == 1 || extent <= grain) {
    chunks(0, extent);
    return;
  }
  // Split on a chunk boundary so each thread runs whole chunks.
  const int64_t n_chunks = (extent + grain - 1) / grain, mid = std::min(extent, (n_chunks + 1) / 2 * grain);
  helper().run([&] { chunks(0, mid); }, [&] { chunks(mid, extent); });
}

std::string matmul_text(int64_t M, int64_t N, int64_t K) {
  const std::string x = "f32[" + std::to_string(M) + "," + std::to_string(K) + "]";
  const std::string w = "f32[" + std::to_string(N) + "," + std::to_string(K) + "]";
  const std::string y = "f32[" + std::to_string(M) + "," + std::to_string(N) + "]";
  return "module @b\nweight @w : " + w + "\nfunc @f(%x: " + x + ") -> (" + y + ") {\n  %w = weight {name = @w} : " + w +
         "\n  %y = matmul %x, %w {transpose_b = true} : " + y + "\n  return %y\n}\n";
}

// Random bytes with sane block scales: speed does not depend on the values,
// but NaN/denormal scales could.
std::vector<uint8_t> weight_bytes(GgmlType t, int64_t N, int64_t K, uint32_t seed) {
  std::mt19937 rng(seed);
  const int64_t bytes = *row_bytes(t, K) * N;
  std::vector<uint8_t> w(bytes);
  for (auto& b : w) b = static_cast<uint8_t>(rng() & 0x3f);  // small f32/bf16/f16 exponents stay finite
  if (t == GgmlType::F32) {
    for (int64_t i = 0; i < N * K; ++i) {
      const float v = static_cast<float>(rng() % 1000) / 1000.0f - 0.5f;
      std::memcpy(w.data() + 4 * i, &v, 4);
    }
  } else if (t == GgmlType::BF16) {
    for (int64_t i = 0; i < N * K; ++i) {
      const uint16_t h = float_to_bf16_bits(static_cast<float>(rng() % 1000) / 1000.0f - 0.5f);
      std::memcpy(w.data() + 2 * i, &h, 2);
    }
  } else {
    const int64_t bb = block_bytes(t), n = N * K / block_elems(t);
    const uint16_t d = float_to_f16_bits(0.01f);
    const int64_t d_at = t == GgmlType::Q6_K ? 208 : 0;
    for (int64_t i = 0; i < n; ++i) {
      std::memcpy(w.data() + i * bb + d_at, &d, 2);
      if (t == GgmlType::Q4_K) std::memcpy(w.data() + i * bb + 2, &d, 2);
    }
  }
  return w;
}

constexpr int64_t kColdBytes = 160ll << 20;  // 5x the L3

// Matvec y[1, N] = x W^T: args N, K, format, threads, portable (0/1).
void BM_Matvec(benchmark::State& state) {
  const int64_t N = state.range(0), K = state.range(1);
  const auto type = static_cast<GgmlType>(state.range(2));
  const int threads = static_cast<int>(state.range(3));
  const bool portable = state.range(4) != 0;
  if (!row_bytes(type, K)) {
    state.SkipWithError("K is not whole blocks of this format");
    return;
  }
  const int64_t bytes = *row_bytes(type, K) * N;
  const int64_t copies = std::max<int64_t>(1, (kColdBytes + bytes - 1) / bytes);
  // Copies of one random weight: the values do not change the speed.
  std::vector<std::vector<uint8_t>> w(copies, weight_bytes(type, N, K, 1));
  std::vector<float> x(K, 0.25f), y(N);
  BufferInfo wi{DType::f32, {N, K}};
  if (type != GgmlType::F32) wi.packed = type;
  CpuFeatures cpu = host_cpu_features();
  if (portable) cpu.avx512_vnni = false;
  auto module = parse_module(matmul_text(1, N, K), "<bench>");
  const Op* op = nullptr;
  for (const auto& o : (*module)->function("f")->body()->ops())
    if (o->name() == "matmul") op = o.get();
  LoweringContext ctx{*op, {{DType::f32, {1, K}}, wi}, {{DType::f32, {1, N}}}, cpu};
  auto call = (*KernelLowerings::instance().find("matmul"))(ctx);
  if (!call.ok()) {
    state.SkipWithError(call.error().message.c_str());
    return;
  }
  auto fns = jit().compile({*call});
  if (!fns.ok()) {
    state.SkipWithError(fns.error().message.c_str());
    return;
  }
  const Compiled k{(*fns)[0], *call};
  int64_t c = 0;
  for (auto _ : state) {
    void* buffers[] = {x.data(), w[c].data(), y.data()};
    run_kernel(k, buffers, threads);
    benchmark::DoNotOptimize(y.data());
    c = (c + 1) % copies;
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(bytes), benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
  state.SetLabel(std::string(ggml_type_name(type)) + " " + k.call.name);
}

// OpenBLAS sgemv on the same f32 shapes and copies.
void BM_OpenblasSgemv(benchmark::State& state) {
  const int64_t N = state.range(0), K = state.range(1);
  openblas_set_num_threads(static_cast<int>(state.range(2)));
  const int64_t bytes = 4 * N * K, copies = std::max<int64_t>(1, (kColdBytes + bytes - 1) / bytes);
  std::vector<std::vector<uint8_t>> w(copies, weight_bytes(GgmlType::F32, N, K, 1));
  std::vector<float> x(K, 0.25f), y(N);
  int64_t c = 0;
  for (auto _ : state) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.0f, reinterpret_cast<const float*>(w[c].data()), K, x.data(), 1,
                0.0f, y.data(), 1);
    benchmark::DoNotOptimize(y.data());
    c = (c + 1) % copies;
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(bytes), benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
}

// GEMM C[M, N] = A[M, K] W^T: args M, N, K, format, threads.
void BM_Gemm(benchmark::State& state) {
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  const auto type = static_cast<GgmlType>(state.range(3));
  const int threads = static_cast<int>(state.range(4));
  const auto w = weight_bytes(type, N, K, 7);
  std::vector<float> a(M * K, 0.5f), c(M * N);
  BufferInfo wi{DType::f32, {N, K}};
  if (type != GgmlType::F32) wi.packed = type;
  Compiled k;
  try {
    k = compile_op(matmul_text(M, N, K), {{DType::f32, {M, K}}, wi}, {{DType::f32, {M, N}}});
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  for (auto _ : state) {
    void* buffers[] = {a.data(), const_cast<uint8_t*>(w.data()), c.data()};
    run_kernel(k, buffers, threads);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * M * N * K, benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
  state.SetLabel(std::string(ggml_type_name(type)) + " " + k.call.name);
}

void BM_OpenblasSgemm(benchmark::State& state) {
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  openblas_set_num_threads(static_cast<int>(state.range(3)));
  std::vector<float> a(M * K, 0.5f), b(N * K, 0.25f), c(M * N);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a.data(), K, b.data(), K, 0.0f, c.data(), N);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * M * N * K, benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}

// Decode attention at Gemma-3 270M's shape: 4 query heads on one KV head of
// 256, one query row against a KV cache of 512 rows of which the first T are
// visible: args T, threads, cold (0: the same cache every call, so it stays
// in L2/L3; 1: copies of it past the L3, so the rows come from DRAM as in a
// decode step, where the layer's weights have streamed through the cache
// since the layer last read its KV cache). GB/s = the visible K and V bytes.
void BM_AttentionDecode(benchmark::State& state) {
  const int64_t T = state.range(0), cache = 512, H = 4, hd = 256;
  const int threads = static_cast<int>(state.range(1));
  const bool cold = state.range(2) != 0;
  const std::string q = "f32[4,1,256]", kv = "f32[1,512,256]", m = "bool[1,512]";
  const std::string text = "module @b\nfunc @f(%q: " + q + ", %k: " + kv + ", %v: " + kv + ", %m: " + m + ") -> (" + q +
                           ") {\n  %y = attention %q, %k, %v, %m {mask_value = -1e+30, scale = 0.0625} : " + q +
                           "\n  return %y\n}\n";
  Compiled k;
  try {
    k = compile_op(text,
                   {{DType::f32, {H, 1, hd}}, {DType::f32, {1, cache, hd}}, {DType::f32, {1, cache, hd}},
                    {DType::boolean, {1, cache}}},
                   {{DType::f32, {H, 1, hd}}}, "attention");
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  const int64_t kv_bytes = 2 * cache * hd * 4;
  const int64_t copies = cold ? (kColdBytes + kv_bytes - 1) / kv_bytes : 1;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> qv(H * hd), y(H * hd), one(2 * cache * hd);
  for (auto& v : qv) v = dist(rng);
  for (auto& v : one) v = dist(rng);
  std::vector<std::vector<float>> kvs(copies, one);
  std::vector<uint8_t> mask(cache);
  for (int64_t j = 0; j < cache; ++j) mask[j] = j < T;
  std::vector<uint8_t> scratch(std::max<int64_t>(1, k.call.scratch_bytes));  // zero, as the backend gives it
  int64_t c = 0;
  for (auto _ : state) {
    void* buffers[] = {qv.data(), kvs[c].data(), kvs[c].data() + cache * hd, mask.data(), y.data(), scratch.data()};
    run_kernel(k, buffers, threads);
    benchmark::DoNotOptimize(y.data());
    c = (c + 1) % copies;
  }
  state.counters["GB/s"] = benchmark::Counter(2.0 * T * hd * 4, benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
  state.SetLabel(k.call.name);
}

// Gemma-3 270M: q/k/v/o, gate/up/down and the tied embedding (N x K).
const std::vector<std::pair<int64_t, int64_t>> kShapes = {{1024, 640}, {256, 640},  {640, 1024},
                                                          {2048, 640}, {640, 2048}, {262144, 640}};
const GgmlType kFormats[] = {GgmlType::F32, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q5_0, GgmlType::Q4_K, GgmlType::Q6_K};

void matvec_args(benchmark::internal::Benchmark* b) {
  for (auto [N, K] : kShapes)
    for (GgmlType t : kFormats) {
      if (!row_bytes(t, K)) continue;
      for (int threads : {1, 2}) {
        b->Args({N, K, static_cast<int64_t>(t), threads, 0});
        if (is_quantized(t)) b->Args({N, K, static_cast<int64_t>(t), threads, 1});
      }
    }
}
void sgemv_args(benchmark::internal::Benchmark* b) {
  for (auto [N, K] : kShapes)
    for (int threads : {1, 2}) b->Args({N, K, threads});
}

BENCHMARK(BM_Matvec)->ArgNames({"N", "K", "fmt", "threads", "portable"})->Apply(matvec_args)->UseRealTime();
BENCHMARK(BM_OpenblasSgemv)->ArgNames({"N", "K", "threads"})->Apply(sgemv_args)->UseRealTime();
BENCHMARK(BM_AttentionDecode)
    ->ArgNames({"T", "threads", "cold"})
    ->ArgsProduct({{64, 192, 448}, {1, 2}, {0, 1}})
    ->UseRealTime();
BENCHMARK(BM_Gemm)
    ->ArgNames({"M", "N", "K", "fmt", "threads"})
    ->Args({128, 2048, 640, 0, 1})
    ->Args({128, 2048, 640, 0, 2})
    ->Args({128, 2048, 640, 8, 2})
    ->Args({128, 2048, 640, 6, 2})
    ->Args({128, 640, 2048, 12, 2})
    ->UseRealTime();
BENCHMARK(BM_OpenblasSgemm)
    ->ArgNames({"M", "N", "K", "threads"})
    ->Args({128, 2048, 640, 1})
    ->Args({128, 2048, 640, 2})
    ->UseRealTime();

}  // namespace
}  // namespace graphc

BENCHMARK_MAIN();
