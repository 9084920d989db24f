#include "tools/train_session.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/gemma3_weights.h"
#include "graphs/gemma3.h"
#include "graphs/train_step.h"
#include "passes/lora_common.h"
#include "passes/pass_manager.h"
#include "runtime/human_bytes.h"
#include "runtime/lora_adapter.h"
#include "runtime/mapped_file.h"
#include "runtime/progress.h"
#include "runtime/safetensors_writer.h"
#include "runtime/text_corpus.h"
#include "runtime/training_checkpoint.h"
#include "tools/model_files.h"
#include "tools/svg_plot.h"
#include "tools/train_config.h"

namespace graphc::tools {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

constexpr const char* kCheckpointFormat = "graphc-training-checkpoint-1";

std::string eta(double seconds) {
  const int64_t s = int64_t(seconds + 0.5);
  return s >= 3600 ? fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60) : fmt::format("{}m{:02}s", s / 60, s % 60);
}

// The identity of a run, stored in its checkpoint: resuming with other
// settings would silently train something else.
std::map<std::string, std::string> run_identity(const TrainOptions& o) {
  return {{"format", kCheckpointFormat},
          {"mode", o.mode},
          {"seq_len", std::to_string(o.seq_len)},
          {"micro_batches", std::to_string(o.micro_batches)},
          {"lora_rank", std::to_string(o.lora_rank)},
          {"lora_targets", o.lora_targets},
          {"data_seed", std::to_string(o.data_seed)},
          {"optimizer", o.optimizer}};
}

class Trainer {
 public:
  Trainer(const Experiment& exp, const TrainCallbacks& cb) : exp_(exp), o_(exp.train), cb_(cb) {}

  Expected<TrainSummary> run() {
    if (Status s = open(); !s.ok()) return s.error();
    if (Status s = start_or_resume(); !s.ok()) return s.error();
    TrainSummary summary;
    summary.first_step = step_;
    summary.output_dir = out_;
    summary.first_eval_loss = summary.last_eval_loss = NAN;
    summary.first_loss = summary.last_loss = NAN;  // no step taken (yet)
    if (step_ >= o_.steps) {
      fmt::print(stderr, "{} is at step {} of train.steps {}: nothing to train (raise train.steps to go on)\n",
                 checkpoint_path(), step_, o_.steps);
      summary.last_step = step_;
      summary.arena_bytes = arena_bytes_;
      summary.lower_bound_bytes = lower_bound_bytes_;
      return summary;
    }
    if (step_ == 0 && o_.eval_every > 0) {
      auto e = evaluate();
      if (!e.ok()) return e.error();
      summary.first_eval_loss = summary.last_eval_loss = *e;
    }
    Progress progress("training", o_.steps);
    progress.update(step_);
    const auto started = Clock::now();
    const int64_t first = step_;
    bool stop = false;
    double tokens = 0;
    // @train_loop runs the steps up to the next evaluation or checkpoint in
    // one call; each step's report arrives through emit.
    const HostTensor stream = training_stream();
    auto last = Clock::now();
    cpu_->set_emit_handler([&](const std::string&, const HostTensor& report) {
      const auto now = Clock::now();
      const double dt = std::chrono::duration<double>(now - last).count();
      last = now;
      ++step_;
      position_ += o_.micro_batches;
      TrainStepRecord r{step_, report.get(0), report.get(1), report.get(2),
                        double(o_.micro_batches * o_.seq_len) / dt, dt};
      tokens += double(o_.micro_batches * o_.seq_len);
      if (step_ == first + 1) summary.first_loss = r.loss;
      summary.last_loss = r.loss;
      append_metrics({{"step", r.step}, {"loss", r.loss}, {"grad_norm", r.grad_norm}, {"lr", r.lr},
                      {"tokens_per_s", r.tokens_per_s}, {"seconds", r.seconds}});
      const double elapsed = std::chrono::duration<double>(now - started).count();
      progress.update(step_, fmt::format("loss {:.4f}  lr {:.2e}  {:.0f} tokens/s  ETA {}", r.loss, r.lr, r.tokens_per_s,
                                         eta(elapsed / double(step_ - first) * double(o_.steps - step_))));
      if (!std::isfinite(r.loss)) stop = true;
      if (cb_.on_step && !cb_.on_step(r)) stop = true;
      return !stop;
    });
    while (step_ < o_.steps && !stop) {
      int64_t next = o_.steps;
      for (int64_t every : {o_.eval_every, o_.checkpoint_every})
        if (every > 0) next = std::min(next, (step_ / every + 1) * every);
      const int64_t span = next - step_;
      HostTensor order(DType::i32, {span, o_.micro_batches});
      for (int64_t k = 0; k < order.numel(); ++k) order.set_int(k, corpus_->train_index(position_ + k));
      last = Clock::now();
      auto out = cpu_->run("train_loop", {stream, order, HostTensor::scalar(DType::i64, double(span))});
      if (!out.ok()) return Error{fmt::format("steps {}..{}: {}", step_ + 1, next, out.error().message)};
      if (!std::isfinite(summary.last_loss))
        return Error{fmt::format("step {}: the loss is {} (lower train.optimizer.lr?)", step_, summary.last_loss)};
      if (o_.eval_every > 0 && (step_ % o_.eval_every == 0 || step_ == o_.steps)) {
        auto e = evaluate();
        if (!e.ok()) return e.error();
        if (std::isnan(summary.first_eval_loss)) summary.first_eval_loss = *e;
        summary.last_eval_loss = *e;
      }
      if (stop || step_ == o_.steps || (o_.checkpoint_every > 0 && step_ % o_.checkpoint_every == 0))
        if (Status s = save_checkpoint(); !s.ok()) return s.error();
      if (Status s = write_plot(); !s.ok()) return s.error();
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    summary.last_step = step_;
    summary.tokens_per_s = seconds > 0 ? tokens / seconds : 0;
    if (step_ > first) progress.finish(fmt::format("step {}, loss {:.4f}", step_, summary.last_loss));
    if (step_ == o_.steps && step_ > first)
      if (Status s = save_adapter(); !s.ok()) return s.error();
    if (cb_.profile) fmt::print(stderr, "\nkernel profile:\n{}", cpu_->profile_report(40));
    summary.arena_bytes = arena_bytes_;
    summary.lower_bound_bytes = lower_bound_bytes_;
    return summary;
  }

 private:
  Status open() {
    if (Status s = open_program(); !s.ok()) return s;
    return open_data();
  }

 public:
  // The model, @train_step and @eval_loss compiled, the adapters initialised.
  Status open_program() {
    auto files = open_model_files(exp_);
    if (!files.ok()) return files.error();
    files_ = std::move(*files);
    module_ = build_gemma3(files_.config);
    if (Status s = add_training(*module_, files_.config, train_config(o_)); !s.ok())
      return Error{exp_.file + ": train: " + s.error().message};
    params_ = trainable_parameters(*module_, train_config(o_).trainable);
    const std::string pipeline = exp_.passes == "default" ? default_pipeline() : exp_.passes;
    auto report = run_pipeline(*module_, pipeline);
    if (!report.ok()) return Error{exp_.file + ": compile.passes: " + report.error().message};
    // The frozen base is read as f32: the backward pass multiplies by the
    // transposed weights, which the block-format kernels do not provide.
    auto provider = gemma3_cpu_weights(files_.checkpoint, *module_, WeightFormat::f32, weight_stats_);
    if (!provider.ok()) return provider.error();
    cpu_ = std::make_unique<CpuBackend>(*module_, CpuBackendOptions{exp_.threads, exp_.cache_dir, cb_.profile});
    cpu_->set_weight_provider(*provider);
    for (const char* f : {"train_step", "eval_loss"}) {  // train_loop: when its shapes are known
      Progress compiling(fmt::format("compiling @{}", f));
      if (Status s = cpu_->compile(f); !s.ok()) return s;
      compiling.finish();
    }
    const CompileStats& st = cpu_->stats();
    arena_bytes_ = st.arena_bytes;
    lower_bound_bytes_ = st.lower_bound_bytes;
    return {};
  }

  // The starting point: LoRA's @lora_init, or the checkpoint's weights as
  // the trainable state of full fine-tuning.
  Status initialise_parameters() {
    if (o_.mode == "lora") {
      auto init = cpu_->run("lora_init", {HostTensor::scalar(DType::i64, double(o_.lora_seed))});
      return init.ok() ? Status{} : Status{init.error()};
    }
    Progress loading("loading the weights to train", int64_t(params_.size()));
    for (size_t i = 0; i < params_.size(); ++i) {
      auto w = files_.checkpoint->load(params_[i], to_static(module_->global(params_[i])->type.shape));
      if (!w.ok()) return w.error();
      cpu_->set_state(params_[i], *w);
      loading.update(int64_t(i + 1));
    }
    loading.finish();
    return {};
  }

  TrainingCompileSummary compile_summary() const {
    const CompileStats& st = cpu_->stats();
    TrainingCompileSummary r{st.functions, st.kernels,          st.unique_kernels,   st.cache_hits,
                             st.cache_misses, st.seconds,      arena_bytes_,        lower_bound_bytes_,
                             params_.size(),  0};
    for (const std::string& p : params_) r.trainable_parameters += num_elements(module_->global(p)->type.shape).value_or(0);
    return r;
  }

  // The fixed-batch timing of time_train_steps().
  Expected<StepTimings> time_steps(const std::vector<int32_t>& ids, int warmup, int steps) {
    if (Status s = initialise_parameters(); !s.ok()) return s.error();
    const int64_t M = o_.micro_batches, S = o_.seq_len;
    if (ids.empty()) return Error{"no token ids to time the step on"};
    HostTensor tokens(DType::i32, {M, S}), targets(DType::i32, {M, S}), weights(DType::f32, {M, S});
    for (int64_t m = 0; m < M; ++m)
      for (int64_t i = 0; i < S; ++i) {
        tokens.set_int(m * S + i, ids[i % ids.size()]);
        targets.set_int(m * S + i, ids[(i + 1) % ids.size()]);
        weights.set(m * S + i, 1.0);
      }
    StepTimings t;
    t.arena_bytes = arena_bytes_;
    t.lower_bound_bytes = lower_bound_bytes_;
    for (int k = 0; k < warmup + steps; ++k) {
      const auto t0 = Clock::now();
      auto out = cpu_->run("train_step", {tokens, targets, weights});
      if (!out.ok()) return out.error();
      const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
      if (k >= warmup) {
        t.seconds.push_back(dt);
        t.losses.push_back((*out)[0].get(0));
      }
    }
    return t;
  }

 private:
  Status open_data() {
    Progress reading("reading " + o_.data_path);
    TextCorpusOptions copt;
    copt.seq_len = o_.seq_len;
    copt.heldout_fraction = o_.heldout_fraction;
    copt.seed = uint64_t(o_.data_seed);
    auto corpus = TextCorpus::load(o_.data_path, *files_.tokenizer, copt,
                                   [&](int64_t done, int64_t total) { (void)total, reading.update(done); });
    if (!corpus.ok()) return Error{exp_.file + ": train.data.path: " + corpus.error().message};
    corpus_ = std::make_unique<TextCorpus>(std::move(*corpus));
    reading.finish(corpus_->stats().summary());
    if (corpus_->train_sequences() == 0)
      return Error{o_.data_path + ": no training sequence of " + std::to_string(o_.seq_len + 1) + " tokens"};

    out_ = o_.output.empty() ? "runs/" + std::filesystem::path(exp_.file).stem().string() : o_.output;
    std::error_code ec;
    std::filesystem::create_directories(out_, ec);
    if (ec) return Error{fmt::format("{}: cannot create the output directory: {}", out_, ec.message())};
    return {};
  }

  std::string checkpoint_path() const { return out_ + "/checkpoint.safetensors"; }
  std::string metrics_path() const { return out_ + "/metrics.jsonl"; }

  Status start_or_resume() {
    if (o_.resume && std::filesystem::exists(checkpoint_path())) {
      auto c = read_training_checkpoint(checkpoint_path());
      if (!c.ok()) return c.error();
      for (const auto& [key, value] : run_identity(o_)) {
        auto it = c->metadata.find(key);
        if (it == c->metadata.end() || it->second != value)
          return Error{fmt::format("{}: made by a run with {} = {}, this run has {} (remove it, or set train.resume: "
                                   "false, to start over)",
                                   checkpoint_path(), key, it == c->metadata.end() ? "(none)" : it->second, value)};
      }
      auto step = c->integer("step");
      auto position = c->integer("data_position");
      if (!step.ok()) return step.error();
      if (!position.ok()) return position.error();
      for (auto& [name, t] : c->tensors) {
        if (!module_->global(name)) return Error{checkpoint_path() + ": unknown state " + name};
        cpu_->set_state(name, t);
      }
      step_ = *step;
      position_ = *position;
      cpu_->set_state("train.step", HostTensor::scalar(DType::i64, double(step_)));
      // Lines a killed run wrote after its last checkpoint are dropped, so the
      // file reads as one run.
      if (Status s = keep_metrics_until(step_); !s.ok()) return s;
      load_points_from_metrics();
      fmt::print(stderr, "resuming from {} at step {}\n", checkpoint_path(), step_);
      return {};
    }
    if (Status s = initialise_parameters(); !s.ok()) return s;
    return write_file_atomically(metrics_path(), std::string_view(""));
  }

  Status keep_metrics_until(int64_t step) {
    std::ifstream in(metrics_path());
    std::string kept, line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      try {
        if (json::parse(line).value("step", int64_t{0}) > step) continue;
      } catch (const std::exception&) {
        continue;  // a line cut off by the kill
      }
      kept += line + "\n";
    }
    return write_file_atomically(metrics_path(), std::string_view(kept));
  }

  void append_metrics(const json& j) {
    std::ofstream out(metrics_path(), std::ios::app);
    out << j.dump() << "\n";
    out.flush();
    if (j.contains("loss")) train_points_.emplace_back(double(j["step"]), double(j["loss"]));
    if (j.contains("eval_loss")) eval_points_.emplace_back(double(j["step"]), double(j["eval_loss"]));
  }

  // Every training sequence as one [rows, seq_len + 1] tensor: the token
  // stream @train_loop reads its batches from.
  HostTensor training_stream() const {
    const int64_t rows = corpus_->train_sequences(), width = o_.seq_len + 1;
    HostTensor t(DType::i32, {rows, width});
    for (int64_t r = 0; r < rows; ++r) {
      const std::vector<int32_t>& seq = corpus_->train(r);
      for (int64_t i = 0; i < width; ++i) t.ints()[r * width + i] = seq[i];
    }
    return t;
  }

  // Mean negative log-likelihood per token over the first eval.sequences
  // held-out sequences.
  Expected<double> evaluate() {
    const int64_t S = o_.seq_len;
    const int64_t n = std::min<int64_t>(o_.eval_sequences, corpus_->heldout_sequences());
    if (n == 0) return NAN;
    Progress progress("evaluating", n);
    double nll = 0, count = 0;
    for (int64_t k = 0; k < n; ++k) {
      const std::vector<int32_t>& seq = corpus_->heldout(k);
      HostTensor tokens(DType::i32, {S}), targets(DType::i32, {S}), weights(DType::f32, {S});
      for (int64_t i = 0; i < S; ++i) {
        tokens.set_int(i, seq[i]);
        targets.set_int(i, seq[i + 1]);
        weights.set(i, 1.0);
      }
      auto out = cpu_->run("eval_loss", {tokens, targets, weights});
      if (!out.ok()) return out.error();
      nll += (*out)[0].get(0);
      count += (*out)[1].get(0);
      progress.update(k + 1);
    }
    const double loss = nll / count;
    progress.finish(fmt::format("held-out loss {:.4f}, perplexity {:.2f}", loss, std::exp(loss)));
    append_metrics({{"step", step_}, {"eval_loss", loss}, {"eval_perplexity", std::exp(loss)}, {"eval_tokens", count}});
    return loss;
  }

  Status save_checkpoint() {
    std::map<std::string, std::string> metadata = run_identity(o_);
    metadata["step"] = std::to_string(step_);
    metadata["data_position"] = std::to_string(position_);
    std::vector<CheckpointEntry> entries;
    for (const Global& g : module_->globals()) {
      if (g.kind != GlobalKind::State || g.type.dtype != DType::f32) continue;
      if (g.name.find("k_cache") != std::string::npos || g.name.find("v_cache") != std::string::npos) continue;
      const std::string name = g.name;
      entries.push_back({name, to_static(g.type.shape), [this, name]() { return cpu_->state(name); }});
    }
    return write_training_checkpoint(checkpoint_path(), entries, metadata);
  }

  Status save_adapter() {
    if (o_.mode == "full") return save_model();
    LoraAdapter a;
    a.rank = o_.lora_rank;
    a.alpha = o_.lora_alpha;
    for (const std::string& p : params_) a.factors.emplace_back(p, cpu_->state(p));
    if (Status s = write_peft_adapter(out_ + "/adapter", a); !s.ok()) return s;
    fmt::print(stderr, "adapter written to {}/adapter (PEFT format)\n", out_);
    return {};
  }

  // Full fine-tuning's result: every weight under its Hugging Face name in
  // model.safetensors (F32), loadable as model.weights (with model.tokenizer)
  // or by transformers.
  Status save_model() {
    SafetensorsWriter w;
    for (const std::string& p : params_) {
      std::optional<std::string> hf = gemma3_hf_name(p);
      if (!hf) return Error{"no Hugging Face name for " + p};
      const std::vector<int64_t> shape = to_static(module_->global(p)->type.shape);
      if (Status s = w.add_tensor_lazy(*hf, SafetensorsDType::F32, shape,
                                       [this, p]() { return std::move(cpu_->state(p).floats()); });
          !s.ok())
        return s;
    }
    if (Status s = w.write(out_ + "/model.safetensors"); !s.ok()) return s;
    fmt::print(stderr, "weights written to {}/model.safetensors\n", out_);
    return {};
  }

  Status write_plot() {
    const std::string svg = svg_line_chart(
        fmt::format("{}: {} rank {} on {}", files_.config.name, o_.mode, o_.lora_rank,
                    std::filesystem::path(o_.data_path).filename().string()),
        "step", "loss (nats per token)",
        {{"training loss", "#1f77b4", train_points_, false}, {"held-out loss", "#d62728", eval_points_, true}});
    return write_file_atomically(out_ + "/loss.svg", std::string_view(svg));
  }

  // After a resume, the curve starts from what the file already holds.
  void load_points_from_metrics() {
    std::ifstream in(metrics_path());
    std::string line;
    while (std::getline(in, line)) {
      try {
        json j = json::parse(line);
        if (j.contains("loss")) train_points_.emplace_back(double(j["step"]), double(j["loss"]));
        if (j.contains("eval_loss")) eval_points_.emplace_back(double(j["step"]), double(j["eval_loss"]));
      } catch (const std::exception&) {
      }
    }
  }

  const Experiment& exp_;
  const TrainOptions& o_;
  const TrainCallbacks& cb_;
  ModelFiles files_;
  std::unique_ptr<Module> module_;
  std::vector<std::string> params_;
  std::shared_ptr<WeightBindingStats> weight_stats_ = std::make_shared<WeightBindingStats>();
  std::unique_ptr<CpuBackend> cpu_;
  std::unique_ptr<TextCorpus> corpus_;
  std::string out_;
  int64_t step_ = 0, position_ = 0;
  int64_t arena_bytes_ = 0, lower_bound_bytes_ = 0;
  std::vector<std::pair<double, double>> train_points_, eval_points_;
};

}  // namespace

Expected<TrainingCompileSummary> compile_training(const Experiment& exp) {
  try {
    TrainCallbacks none;
    Trainer t(exp, none);
    if (Status s = t.open_program(); !s.ok()) return s.error();
    return t.compile_summary();
  } catch (const std::exception& e) {
    return Error{e.what()};
  }
}

Expected<StepTimings> time_train_steps(const Experiment& exp, const std::vector<int32_t>& ids, int warmup, int steps) {
  try {
    TrainCallbacks none;
    Trainer t(exp, none);
    if (Status s = t.open_program(); !s.ok()) return s.error();
    return t.time_steps(ids, warmup, steps);
  } catch (const std::exception& e) {
    return Error{e.what()};
  }
}

Expected<TrainSummary> run_training(const Experiment& exp, const TrainCallbacks& callbacks) {
  try {
    Trainer t(exp, callbacks);
    return t.run();
  } catch (const std::exception& e) {
    return Error{e.what()};
  }
}

}  // namespace graphc::tools
