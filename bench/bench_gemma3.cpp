// Gemma-3 270M end to end on the CPU JIT backend: prefill of a 128-token
// prompt and 128 greedy decode steps, as tokens/s, next to the machine's
// measured limits and as a ratio to the PyTorch baseline
// (bench/pytorch_gemma3.py) run in the same invocation on the same token ids
// (bench/gemma3_prompt_ids.json).
//
// The model is built, optimised and run exactly as graph-run does it:
// build_gemma3, the default pass pipeline, CpuBackend with the checkpoint's
// weights bound by gemma3_cpu_weights. The program timed is graph-run's
// @generate (graphs/generate.h), greedy, with no stop token: prefill_row on
// the prompt (logits of its last position only, which is what generation
// needs and what the PyTorch side computes with logits_to_keep=1), then
// decode_tokens steps of argmax and decode_step in the program's own loop.
// Each token reaches the host through `emit`: prefill is the time to the
// first token, decode the time from the first to the last, which spans
// decode_tokens decode steps with their argmax.
//
// Two weight formats: f32 (every weight dequantized once, the numbers the
// PyTorch baseline runs on) and stored (the checkpoint's own Q4_K/Q5_0/...
// blocks read in place).
//
// Counters, per format:
//   prefill_tok/s, decode_tok/s   best of --repeat timed runs after one warm-up (on
//                                 a shared machine interference only slows a run;
//                                 the baseline and the machine peaks are best-of too)
//   *_median                      the medians of the same runs
//   vs_pytorch_prefill/decode     ratio to the baseline's best (absent if skipped)
//   decode_roofline               decode_tok/s * weight_bytes / measured read bandwidth:
//                                 decode streams every weight once per token (the LM
//                                 head reads the whole tied embedding), so this is the
//                                 fraction of the memory roofline reached. KV-cache
//                                 reads are left out of the bytes (a few MB at these
//                                 lengths next to 0.25-1 GB of weights).
//   decode_roofline_paired        the same fraction per timed run against the read
//                                 bandwidth measured right before and after that run
//                                 (the higher of the two), best run: the guest's memory
//                                 bandwidth moves by up to 1.6x from minute to minute,
//                                 so a limit measured seconds away can be another
//                                 machine's; read_gbs_paired is that run's bandwidth
//   prefill_fma_frac              prefill's matmul flops per second / measured FMA peak
//   read_gbs, fma_gflops          the limits those fractions are of
//   peak_rss_bytes                high-water RSS while this format was set up and run
//                                 (reset before it where the kernel allows)
//   arena_bytes, weight_bytes, compile_s
//   greedy_match_pytorch          leading decode tokens equal to PyTorch's greedy ones
//
// Flags (besides Google Benchmark's): --threads=N (default: all hardware
// threads), --prompt-tokens=128, --decode-tokens=128, --repeat=3,
// --gguf=PATH, --formats=f32,stored, --no-baseline. The baseline's
// interpreter is $GRAPHC_BENCH_PYTHON (python3 when unset).
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/gemma3_weights.h"
#include "bench/baseline_runner.h"
#include "bench/machine_peaks.h"
#include "graphs/gemma3.h"
#include "graphs/generate.h"
#include "passes/pass_manager.h"
#include "runtime/gemma3_checkpoint.h"

namespace graphc::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Flags {
  int threads = int(std::max(1u, std::thread::hardware_concurrency()));
  int prompt_tokens = 128;
  int decode_tokens = 128;
  int repeat = 3;
  std::string gguf = default_gemma3_gguf_path();
  std::vector<std::string> formats = {"f32", "stored"};
  bool baseline = true;
};

Flags& flags() {
  static Flags f;
  return f;
}

// What the baseline measured (or why not), shared by every benchmark.
struct Baseline {
  std::optional<BaselineResult> result;
  std::string skip_reason;
};
Baseline& baseline() {
  static Baseline b;
  return b;
}

std::vector<int32_t> read_prompt_ids(const std::string& path, int count) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  const auto doc = nlohmann::json::parse(in);
  auto ids = doc.at("ids").get<std::vector<int32_t>>();
  if (int(ids.size()) < count)
    throw std::runtime_error(path + " has " + std::to_string(ids.size()) + " ids, the benchmark needs " +
                             std::to_string(count));
  ids.resize(size_t(count));
  return ids;
}

// Resets the kernel's RSS high-water mark to the current RSS (Linux >= 4.0),
// so the next reading covers one format only.
void reset_peak_rss() {
  if (FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
    std::fputs("5", f);
    std::fclose(f);
  }
}

int64_t peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return int64_t(u.ru_maxrss) * 1024;  // Linux reports KiB
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

template <class T>
T value_or_throw(Expected<T> e) {
  if (!e.ok()) throw std::runtime_error(e.error().message);
  return std::move(e).take();
}

void throw_if(const Status& s) {
  if (!s.ok()) throw std::runtime_error(s.error().message);
}

// Flops of prefill_row's matrix products: every layer's projections for
// every prompt token, the LM head for the last one only (the embedding lookup
// is a gather). Attention's own products (q.k, p.v) are left out: at 128
// tokens they add under 5% (causal: about 2.5%).
double prefill_matmul_flops(const Gemma3Config& c, int tokens) {
  const double per_layer = double(c.hidden) * double(c.heads * c.head_dim) * 2  // q, o
                           + double(c.hidden) * double(c.kv_heads * c.head_dim) * 2  // k, v
                           + double(c.hidden) * double(c.intermediate) * 3;          // gate, up, down
  return 2 * (per_layer * double(c.layers) * tokens + double(c.hidden) * double(c.vocab));
}

void BM_Gemma3(benchmark::State& state, const std::string& format) {
  const Flags& f = flags();
  reset_peak_rss();
  const auto ids = read_prompt_ids(default_prompt_ids_path(), f.prompt_tokens);

  auto checkpoint = std::make_shared<const Gemma3Checkpoint>(value_or_throw(Gemma3Checkpoint::open(f.gguf)));
  Gemma3Config config = value_or_throw(config_from_gguf(*checkpoint->gguf(), "gemma3-270m"));
  config.max_context = f.prompt_tokens + f.decode_tokens + 1;
  auto module = build_gemma3(config);
  GenerateConfig generate;
  generate.max_new_tokens = f.decode_tokens + 1;  // the prefill's token, then one per decode step
  throw_if(add_generate(*module, config, generate));
  value_or_throw(run_pipeline(*module, default_pipeline()));
  auto stats = std::make_shared<WeightBindingStats>();
  auto provider = value_or_throw(gemma3_cpu_weights(
      checkpoint, *module, format == "f32" ? WeightFormat::f32 : WeightFormat::stored, stats));
  CpuBackend backend(*module, CpuBackendOptions{f.threads, ""});
  backend.set_weight_provider(provider);

  const auto compile_start = Clock::now();
  throw_if(backend.compile("generate", {{"seq", f.prompt_tokens}}));
  const double compile_s = seconds_since(compile_start);

  const HostTensor tokens = HostTensor::from_ints(DType::i32, {int64_t(ids.size())},
                                                  std::vector<int64_t>(ids.begin(), ids.end()));
  const HostTensor seed = HostTensor::scalar(DType::i64, 0);
  std::vector<int32_t> greedy;
  std::vector<Clock::time_point> arrived;
  backend.set_emit_handler([&](const std::string& channel, const HostTensor& v) {
    if (channel == "token") {
      arrived.push_back(Clock::now());
      greedy.push_back(int32_t(v.get_int(0)));
    }
    return false;
  });
  // One generation: (prefill s, decode s).
  auto run_once = [&]() -> std::pair<double, double> {
    greedy.clear();
    arrived.clear();
    const auto start = Clock::now();
    value_or_throw(backend.run("generate", {tokens, seed}));
    if (int(arrived.size()) != f.decode_tokens + 1)
      throw std::runtime_error("generate emitted " + std::to_string(arrived.size()) + " tokens, expected " +
                               std::to_string(f.decode_tokens + 1));
    return {std::chrono::duration<double>(arrived.front() - start).count(),
            std::chrono::duration<double>(arrived.back() - arrived.front()).count()};
  };

  run_once();  // warm-up: binds the weights, faults the pages in
  const double weight_bytes = double(stats->mapped_bytes + stats->copied_bytes);
  std::vector<double> prefill, decode;
  double best_paired = 0, paired_gbs = 0, all_gbs = 0;
  for (auto _ : state) {
    for (int r = 0; r < f.repeat; ++r) {
      const double gbs_before = measure_read_bandwidth_gbs(f.threads);
      auto [p, d] = run_once();
      const double gbs = std::max(gbs_before, measure_read_bandwidth_gbs(f.threads));
      prefill.push_back(f.prompt_tokens / p);
      decode.push_back(f.decode_tokens / d);
      const double frac = decode.back() * weight_bytes / (gbs * 1e9);
      if (frac > best_paired) best_paired = frac, paired_gbs = gbs;
      all_gbs = std::max(all_gbs, gbs);
    }
  }

  // The highest limits seen in the invocation (at start-up, around each timed
  // run, right after the runs): on a shared machine a neighbour's burst can
  // depress any one measurement, so decode_roofline is the conservative
  // fraction and decode_roofline_paired the one next to its run.
  const MachinePeaks& peaks = machine_peaks(f.threads);
  const double read_gbs = std::max({peaks.read_gbs, all_gbs, measure_read_bandwidth_gbs(f.threads)});
  const double fma_gflops = std::max(peaks.fma_gflops, measure_fma_peak_gflops(f.threads));
  const double prefill_tps = *std::max_element(prefill.begin(), prefill.end());
  const double decode_tps = *std::max_element(decode.begin(), decode.end());
  state.counters["prefill_tok/s"] = prefill_tps;
  state.counters["decode_tok/s"] = decode_tps;
  state.counters["prefill_tok/s_median"] = median(prefill);
  state.counters["decode_tok/s_median"] = median(decode);
  state.counters["decode_roofline"] = decode_tps * weight_bytes / (read_gbs * 1e9);
  state.counters["decode_roofline_paired"] = best_paired;
  state.counters["read_gbs_paired"] = paired_gbs;
  state.counters["prefill_fma_frac"] =
      prefill_matmul_flops(config, f.prompt_tokens) / (f.prompt_tokens / prefill_tps) / (fma_gflops * 1e9);
  state.counters["read_gbs"] = read_gbs;
  state.counters["fma_gflops"] = fma_gflops;
  state.counters["weight_bytes"] = weight_bytes;
  state.counters["arena_bytes"] = double(backend.stats().arena_bytes);
  state.counters["compile_s"] = compile_s;
  state.counters["peak_rss_bytes"] = double(peak_rss_bytes());
  if (const auto& b = baseline().result) {
    state.counters["vs_pytorch_prefill"] = prefill_tps / b->prefill_tokens_per_s;
    state.counters["vs_pytorch_decode"] = decode_tps / b->decode_tokens_per_s;
    size_t same = 0;
    while (same < greedy.size() && same < b->greedy_ids.size() && greedy[same] == b->greedy_ids[same]) ++same;
    state.counters["greedy_match_pytorch"] = double(same);
  }
  std::ostringstream label;
  label << format << ", " << f.threads << " threads";
  state.SetLabel(label.str());
}

// --name=value flags of this program; the rest is left for Google Benchmark.
bool parse_flag(const std::string& arg) {
  Flags& f = flags();
  auto value = [&](const char* name) -> std::optional<std::string> {
    const std::string prefix = std::string("--") + name + "=";
    if (arg.rfind(prefix, 0) == 0) return arg.substr(prefix.size());
    return std::nullopt;
  };
  if (auto v = value("threads")) return f.threads = std::stoi(*v), true;
  if (auto v = value("prompt-tokens")) return f.prompt_tokens = std::stoi(*v), true;
  if (auto v = value("decode-tokens")) return f.decode_tokens = std::stoi(*v), true;
  if (auto v = value("repeat")) return f.repeat = std::stoi(*v), true;
  if (auto v = value("gguf")) return f.gguf = *v, true;
  if (auto v = value("formats")) {
    f.formats.clear();
    std::istringstream in(*v);
    for (std::string s; std::getline(in, s, ',');) f.formats.push_back(s);
    return true;
  }
  if (arg == "--no-baseline") return f.baseline = false, true;
  return false;
}

}  // namespace
}  // namespace graphc::bench

int main(int argc, char** argv) {
  using namespace graphc::bench;
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (!parse_flag(argv[i])) rest.push_back(argv[i]);
  }
  int rest_argc = int(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(rest_argc, rest.data())) return 1;

  const Flags& f = flags();
  if (!std::filesystem::exists(f.gguf)) {
    std::fprintf(stderr, "bench_gemma3: %s is absent; scripts/fetch-weights.sh fetches it\n", f.gguf.c_str());
    return 1;
  }
  for (const auto& format : f.formats) {
    if (format != "f32" && format != "stored") {
      std::fprintf(stderr, "bench_gemma3: --formats takes f32 and stored, got '%s'\n", format.c_str());
      return 1;
    }
  }

  // The baseline runs first, in its own process, so that its memory is gone
  // before graphc's peak RSS is measured.
  if (f.baseline) {
    std::fprintf(stderr, "bench_gemma3: running the PyTorch baseline with %s (a few minutes)\n",
                 baseline_python().c_str());
    BaselineOptions o;
    o.gguf = f.gguf;
    o.prompt_tokens = f.prompt_tokens;
    o.decode_tokens = f.decode_tokens;
    o.threads = f.threads;
    o.repeat = f.repeat;
    baseline().result = run_pytorch_baseline(o, &baseline().skip_reason);
  } else {
    baseline().skip_reason = "PyTorch baseline skipped: --no-baseline";
  }
  if (const auto& b = baseline().result) {
    benchmark::AddCustomContext("pytorch", b->json);
  } else {
    std::fprintf(stderr, "bench_gemma3: %s\n", baseline().skip_reason.c_str());
    benchmark::AddCustomContext("pytorch", baseline().skip_reason);
  }
  const MachinePeaks& peaks = machine_peaks(f.threads);
  benchmark::AddCustomContext("fma_peak_gflops", std::to_string(peaks.fma_gflops) + " (" + peaks.fma_isa + ")");
  benchmark::AddCustomContext("read_bandwidth_gbs", std::to_string(peaks.read_gbs));
  benchmark::AddCustomContext("threads", std::to_string(f.threads));
  benchmark::AddCustomContext("prompt_tokens", std::to_string(f.prompt_tokens));
  benchmark::AddCustomContext("decode_tokens", std::to_string(f.decode_tokens));

  for (const auto& format : f.formats) {
    // A failure (missing weight, compile error) is reported as this
    // benchmark's error instead of ending the program.
    benchmark::RegisterBenchmark(("BM_Gemma3/" + format).c_str(),
                                 [format](benchmark::State& s) {
                                   try {
                                     BM_Gemma3(s, format);
                                   } catch (const std::exception& error) {
                                     s.SkipWithError(error.what());
                                   }
                                 })
        ->Iterations(1)
        ->Unit(benchmark::kSecond);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
