// One LoRA fine-tuning step of Gemma-3 270M (rank 16 on every attention and
// MLP projection, 256 tokens, AdamW), graphc against PyTorch + PEFT measured
// in the same invocation: step time and peak memory as ratios (the training
// issue's bars: at most 1x PyTorch's step time, at most 0.8x its peak
// memory), and graphc's step as a fraction of the FMA peak measured here.
//
//   GRAPHC_BENCH_PYTHON=$PWD/.venv-reference/bin/python build-bench/bin/bench_lora_step --threads=2 --steps=5
//
// Both sides train on the same token ids (bench/gemma3_prompt_ids.json) from
// the same f32 weights (the GGUF dequantized). graphc's step is the one
// experiments/gemma3-270m-lora.yaml trains with (graph-run compiles it the
// same way); its peak memory is this process's, which runs only graphc (the
// baseline is a subprocess). Best of the timed steps on both sides: on a
// shared machine, interference only ever slows a step down.
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/baseline_runner.h"
#include "bench/machine_peaks.h"
#include "runtime/experiment.h"
#include "tools/train_session.h"

namespace {

int64_t peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return int64_t(u.ru_maxrss) * 1024;
}

// Multiply-adds x 2 of one step: the forward's projections, attention and
// LM head, and a backward that costs as much again (activation gradients
// only: the base is frozen; LoRA's own products are under 2% and left out).
double step_gflop(const graphc::Gemma3Config& c, int64_t seq) {
  const double D = double(c.hidden), F = double(c.intermediate), S = double(seq);
  const double q = double(c.heads * c.head_dim), kv = double(c.kv_heads * c.head_dim);
  const double projections = D * q + 2 * D * kv + q * D + 3 * D * F;
  const double attention = 2.0 * S * double(c.head_dim) * double(c.heads);  // QK^T and PV per query row
  const double forward = 2 * S * (double(c.layers) * (projections + attention) + D * double(c.vocab));
  return 2 * forward / 1e9;
}

std::string arg(int argc, char** argv, const std::string& name, const std::string& fallback) {
  const std::string prefix = "--" + name + "=";
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]).rfind(prefix, 0) == 0) return std::string(argv[i]).substr(prefix.size());
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = std::stoi(arg(argc, argv, "threads", "2"));
  const int steps = std::stoi(arg(argc, argv, "steps", "5"));
  const int seq = std::stoi(arg(argc, argv, "seq-len", "256"));
  const std::string source = GRAPHC_SOURCE_DIR;

  auto exp = graphc::load_experiment(source + "/experiments/gemma3-270m-lora.yaml",
                                     {"model.weights=" + graphc::bench::default_gemma3_gguf_path(),
                                      "compile.threads=" + std::to_string(threads), "train.seq_len=" + std::to_string(seq)});
  if (!exp.ok()) {
    std::fprintf(stderr, "bench_lora_step: %s\n", exp.error().message.c_str());
    return 1;
  }
  std::ifstream ids_file(graphc::bench::default_prompt_ids_path());
  const std::vector<int32_t> ids = nlohmann::json::parse(ids_file)["ids"].get<std::vector<int32_t>>();

  const double peak_gflops = graphc::bench::machine_peaks(threads).fma_gflops;
  std::fprintf(stderr, "bench_lora_step: graphc, %d threads, %d timed steps after 1 warm-up\n", threads, steps);
  auto ours = graphc::tools::time_train_steps(*exp, ids, 1, steps);
  if (!ours.ok()) {
    std::fprintf(stderr, "bench_lora_step: %s\n", ours.error().message.c_str());
    return 1;
  }
  const double best = *std::min_element(ours->seconds.begin(), ours->seconds.end());
  std::vector<double> sorted = ours->seconds;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  const int64_t our_rss = peak_rss_bytes();
  const double gflop = step_gflop(exp->model, seq);

  std::printf("LoRA step of %s, rank %lld, %d tokens, %d threads\n", exp->model.name.c_str(),
              static_cast<long long>(exp->train.lora_rank), seq, threads);
  std::printf("  graphc:  best %.3f s, median %.3f s (%.0f tokens/s), %.0f GFLOP/s = %.2f of the %.0f GFLOP/s FMA "
              "peak; peak RSS %.2f GB, train_step arena %.2f GB\n",
              best, median, seq / best, gflop / best, gflop / best / peak_gflops, peak_gflops, our_rss / 1e9,
              ours->arena_bytes / 1e9);

  std::string reason;
  auto line = graphc::bench::run_baseline_script(
      "bench/pytorch_lora_step.py",
      {"--threads", std::to_string(threads), "--steps", std::to_string(steps), "--seq-len", std::to_string(seq),
       "--rank", std::to_string(exp->train.lora_rank), "--alpha", std::to_string(exp->train.lora_alpha)},
      "torch, transformers, gguf, peft", &reason);
  if (!line) {
    std::printf("  PyTorch + PEFT: %s\n", reason.c_str());
    return 0;
  }
  const nlohmann::json pt = nlohmann::json::parse(*line);
  const double pt_best = pt["step_seconds_best"].get<double>();
  const double pt_median = pt["step_seconds_median"].get<double>();
  const int64_t pt_rss = pt["peak_rss_bytes"].get<int64_t>();
  std::printf("  PyTorch %s + PEFT %s: best %.3f s, median %.3f s; peak RSS %.2f GB\n",
              pt["torch"].get<std::string>().c_str(), pt["peft"].get<std::string>().c_str(),
              pt_best, pt_median, pt_rss / 1e9);
  std::printf("  step time ratio graphc / PyTorch: %.2f (best), %.2f (median)   [bar: <= 1]\n", best / pt_best,
              median / pt_median);
  std::printf("  peak memory ratio graphc / PyTorch: %.2f   [bar: <= 0.8]\n", double(our_rss) / double(pt_rss));
  std::printf("%s\n", nlohmann::json{{"graphc_step_seconds_best", best},
                                     {"graphc_step_seconds_median", median},
                                     {"graphc_peak_rss_bytes", our_rss},
                                     {"graphc_arena_bytes", ours->arena_bytes},
                                     {"graphc_fraction_of_fma_peak", gflop / best / peak_gflops},
                                     {"pytorch_step_seconds_best", pt_best},
                                     {"pytorch_step_seconds_median", pt_median},
                                     {"pytorch_peak_rss_bytes", pt_rss},
                                     {"step_time_ratio", best / pt_best},
                                     {"peak_memory_ratio", double(our_rss) / double(pt_rss)}}
                          .dump()
                          .c_str());
  return 0;
}
