#include "tools/model_session.h"

#include "tools/model_files.h"
#include "runtime/lora_adapter.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <cmath>
#include <set>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/gemma3_weights.h"
#include "backends/reference/interpreter.h"
#include "graphs/gemma3.h"
#include "graphs/generate.h"
#include "graphs/score.h"
#include "ir/printer.h"
#include "passes/pass_manager.h"
#include "runtime/gemma3_checkpoint.h"
#include "runtime/progress.h"

namespace graphc::tools {

double EvaluationResult::perplexity() const { return tokens > 0 ? std::exp(nll / double(tokens)) : 0; }
double EvaluationResult::bits_per_byte() const { return bytes > 0 ? nll / std::log(2.0) / double(bytes) : 0; }

namespace {

using Clock = std::chrono::steady_clock;
using RunFn = std::function<Expected<std::vector<HostTensor>>(const std::string&, const std::vector<HostTensor>&)>;
using EmitFn = std::function<bool(const std::string&, const HostTensor&)>;

class Gemma3Session : public ModelSession {
 public:
  const Tokenizer& tokenizer() const override { return *tokenizer_; }
  const Gemma3Config& config() const override { return config_; }
  int64_t arena_bytes() const override { return cpu_ ? cpu_->stats().arena_bytes : 0; }
  std::string backend_name() const override { return cpu_ ? "jit" : "reference"; }

  std::string profile_report() const override { return cpu_ && profile_ ? cpu_->profile_report() : ""; }

  Status open(const Experiment& exp, const SessionOptions& options) {
    const std::string& backend = options.backend;
    profile_ = options.profile;
    exp_ = exp;
    if (backend != "jit" && backend != "reference")
      return Error{"the backend must be jit or reference, got '" + backend + "'"};
    auto files = open_model_files(exp);
    if (!files.ok()) return files.error();
    checkpoint_ = files->checkpoint;
    tokenizer_ = std::move(files->tokenizer);
    config_ = files->config;
    module_ = build_gemma3(config_);
    GenerateConfig g;
    g.max_new_tokens = exp.run.max_new_tokens;
    g.sampling = {exp.run.sampling.strategy, exp.run.sampling.temperature, exp.run.sampling.top_k,
                  exp.run.sampling.top_p, exp.run.sampling.repetition_penalty};
    g.stop_tokens = {tokenizer_->eos_id()};
    if (tokenizer_->end_of_turn_id() >= 0) g.stop_tokens.push_back(tokenizer_->end_of_turn_id());
    if (Status s = add_generate(*module_, config_, g); !s.ok()) return Error{exp.file + ": " + s.error().message};
    if (Status s = add_generate_batch(*module_, config_, g); !s.ok()) return s;
    if (Status s = add_score(*module_, config_); !s.ok()) return s;
    if (!exp.adapter.empty())
      if (Status s = add_adapter(exp.adapter); !s.ok()) return s;

    summary_.ops_before = count_ops(*module_);
    summary_.functions = int(module_->functions().size());
    if (backend == "jit") {
      const std::string pipeline = exp.passes == "default" ? default_pipeline() : exp.passes;
      auto report = run_pipeline(*module_, pipeline);
      if (!report.ok()) return Error{exp.file + ": compile.passes: " + report.error().message};
      summary_.passes = int(report->passes.size());
      for (const PassRecord& r : report->passes)
        if (auto it = r.stats.counters.find("fused"); it != r.stats.counters.end()) summary_.ops_fused += it->second;
      auto provider = gemma3_cpu_weights(checkpoint_, *module_,
                                         exp.weights_dtype == "f32" ? WeightFormat::f32 : WeightFormat::stored,
                                         weight_stats_);
      if (!provider.ok()) return provider.error();
      cpu_ = std::make_unique<CpuBackend>(*module_, CpuBackendOptions{exp.threads, exp.cache_dir, options.profile});
      cpu_->set_weight_provider(*provider);
      run_ = [this](const std::string& f, const std::vector<HostTensor>& a) { return cpu_->run(f, a); };
      set_emit_ = [this](EmitFn e) { cpu_->set_emit_handler(std::move(e)); };
    } else {
      auto loader = gemma3_weight_loader(checkpoint_, *module_);
      if (!loader.ok()) return loader.error();
      interp_ = std::make_unique<ReferenceInterpreter>(*module_);
      interp_->set_weight_loader(*loader);
      run_ = [this](const std::string& f, const std::vector<HostTensor>& a) { return interp_->run(f, a); };
      set_emit_ = [this](EmitFn e) { interp_->set_emit_handler(std::move(e)); };
    }
    for (const auto& [name, value] : adapter_.factors) {
      if (cpu_) cpu_->set_state(name, value);
      else interp_->set_state(name, value);
    }
    summary_.ops_after = count_ops(*module_);
    return {};
  }

  // A trained LoRA adapter: add-lora on exactly the projections it has
  // factors for, with its rank and alpha; the factors become the state. With
  // f32 weights fold-lora then folds each adapter into its weight (W + s B A,
  // computed once), so inference runs the base model's ops; weights kept in
  // their block formats keep the adapter as a separate branch.
  Status add_adapter(const std::string& dir) {
    auto adapter = read_peft_adapter(dir);
    if (!adapter.ok()) return Error{exp_.file + ": model.adapter: " + adapter.error().message};
    adapter_ = std::move(*adapter);
    std::set<std::string> weights;
    for (const auto& [name, value] : adapter_.factors) weights.insert(name.substr(0, name.rfind('.')));
    std::string targets;
    for (const std::string& w : weights) targets += (targets.empty() ? "" : "|") + w;
    const std::string fold = exp_.weights_dtype == "f32" ? ",fold-lora,dce" : "";
    auto r = run_pipeline(*module_, fmt::format("add-lora{{targets={},rank={},alpha={},init=zeros}}{}", targets,
                                                adapter_.rank, adapter_.alpha, fold));
    if (!r.ok()) return Error{dir + ": " + r.error().message};
    for (const auto& [name, value] : adapter_.factors) {
      const Global* g = module_->global(name);
      if (!g || to_static(g->type.shape) != value.shape())
        return Error{fmt::format("{}: {} has shape [{}], the model expects {}", dir, name, fmt::join(value.shape(), ","),
                                 g ? g->type.str() : "no such adapter")};
    }
    return {};
  }

  Status compile_all(const SymbolBindings& bindings) override {
    if (!cpu_) return Error{"compiling needs the jit backend"};
    for (const auto& f : module_->functions()) {
      Progress progress("compiling @" + f->name());
      if (Status s = cpu_->compile(f->name(), bindings); !s.ok()) return s;
      progress.finish();
    }
    return {};
  }

  CompileSummary summary() const override {
    CompileSummary s = summary_;
    if (cpu_) {
      const CompileStats& st = cpu_->stats();
      s.programs = st.functions;
      s.kernel_launches = st.kernels;
      s.distinct_kernels = st.unique_kernels;
      s.cache_hits = st.cache_hits;
      s.cache_misses = st.cache_misses;
      s.jit_seconds = st.seconds;
      s.arena_bytes = st.arena_bytes;
      s.lower_bound_bytes = st.lower_bound_bytes;
    }
    s.weights_mapped_bytes = weight_stats_->mapped_bytes;
    s.weights_copied_bytes = weight_stats_->copied_bytes;
    return s;
  }

  std::string optimized_ir() const override { return print_module(*module_); }
  std::string plans_json() const override { return cpu_ ? cpu_->plans_json() : "{}"; }

  // Compiles `function` for a sequence length with a progress line (the JIT
  // compiles on first use otherwise; this makes the wait visible).
  Status prepare(const std::string& function, int64_t seq) {
    if (!cpu_) return {};
    const int before = cpu_->stats().functions;
    std::unique_ptr<Progress> progress;
    if (!compiled_.count({function, seq}))
      progress = std::make_unique<Progress>(fmt::format("compiling @{} (seq {})", function, seq));
    Status s = cpu_->compile(function, {{"seq", seq}});
    if (!s.ok()) return s;
    compiled_.insert({function, seq});
    if (progress) {
      const CompileStats& st = cpu_->stats();
      progress->finish(fmt::format("{} new programs, {} distinct kernels in all, objects {} cached / {} compiled",
                                   st.functions - before, st.unique_kernels, st.cache_hits, st.cache_misses));
    }
    return {};
  }

  // One emitted token: appended, decoded, checked for stop strings. Returns
  // whether generation should stop.
  bool on_token(GenerationResult& r, int32_t id, bool& stopped, Clock::time_point& first, Clock::time_point& last,
                const std::function<void(const std::string&)>& on_text) {
    if (stopped) return true;
    last = Clock::now();
    if (first == Clock::time_point()) first = last;
    if (tokenizer_->is_end_of_generation(id)) return true;
    r.tokens.push_back(id);
    r.text = tokenizer_->decode(r.tokens);
    for (const std::string& stop : exp_.run.stop) {
      if (const size_t at = r.text.find(stop); at != std::string::npos) {
        r.text.resize(at);
        stopped = true;
      }
    }
    if (on_text) on_text(r.text);
    return stopped;
  }

  Expected<std::vector<int32_t>> encode_prompt(const std::string& prompt) const override {
    if (prompt.empty()) return Error{"the prompt is empty"};
    std::vector<int32_t> ids;
    if (exp_.run.chat) {
      auto rendered = Tokenizer::render_chat({{"user", prompt}});
      if (!rendered.ok()) return rendered.error();
      ids = tokenizer_->encode(*rendered, /*add_bos=*/false);
    } else {
      ids = tokenizer_->encode(prompt, /*add_bos=*/true);
    }
    const int64_t need = int64_t(ids.size()) + exp_.run.max_new_tokens;
    if (need > config_.max_context)
      return Error{fmt::format("the prompt has {} tokens; with max_new_tokens {} that is {}, more than the model's "
                               "max_context {}",
                               ids.size(), exp_.run.max_new_tokens, need, config_.max_context)};
    return ids;
  }

  Expected<GenerationResult> generate(const std::string& prompt, uint64_t seed,
                                      const std::function<void(const std::string&)>& on_text) override {
    auto ids = encode_prompt(prompt);
    if (!ids.ok()) return ids.error();
    if (Status s = prepare("generate", int64_t(ids->size())); !s.ok()) return s.error();
    GenerationResult r;
    r.prompt_tokens = int64_t(ids->size());
    const auto start = Clock::now();
    Clock::time_point first, last;
    bool stopped = false;
    set_emit_([&](const std::string& channel, const HostTensor& v) {
      if (channel != "token") return false;
      return on_token(r, static_cast<int32_t>(v.get_int(0)), stopped, first, last, on_text);
    });
    std::vector<int64_t> ids64(ids->begin(), ids->end());
    auto out = run_("generate", {HostTensor::from_ints(DType::i32, {int64_t(ids64.size())}, ids64),
                                 HostTensor::scalar(DType::i64, double(seed))});
    set_emit_(nullptr);
    if (!out.ok()) return out.error();
    if (first == Clock::time_point()) first = last = Clock::now();
    r.prefill_seconds = std::chrono::duration<double>(first - start).count();
    r.decode_seconds = std::chrono::duration<double>(last - first).count();
    return r;
  }

  Expected<std::vector<GenerationResult>> generate_all(
      const std::vector<std::string>& prompts, uint64_t seed,
      const std::function<void(size_t, const std::string&)>& on_text) override {
    std::vector<std::vector<int32_t>> ids;
    size_t longest = 0;
    bool same_length = true;
    for (const std::string& p : prompts) {
      auto e = encode_prompt(p);
      if (!e.ok()) return e.error();
      if (!ids.empty()) same_length &= e->size() == ids[0].size();
      longest = std::max(longest, e->size());
      ids.push_back(std::move(*e));
    }
    std::vector<GenerationResult> results(prompts.size());
    if (prompts.size() == 1 || (!same_length && int64_t(longest) > config_.sliding_window)) {
      for (size_t i = 0; i < prompts.size(); ++i) {
        auto r = generate(prompts[i], seed + i, [&](const std::string& t) { on_text(i, t); });
        if (!r.ok()) return r.error();
        results[i] = std::move(*r);
      }
      return results;
    }
    const int64_t B = int64_t(prompts.size()), L = int64_t(longest);
    if (cpu_) {
      Progress progress(fmt::format("compiling @generate_batch ({} prompts of up to {} tokens)", B, L));
      Status s = cpu_->compile("generate_batch", {{"batch", B}, {"seq", L}});
      if (!s.ok()) return s.error();
      progress.finish();
    }
    std::vector<int64_t> padded, lengths;
    for (const auto& p : ids) {
      for (int64_t i = 0; i < L; ++i) padded.push_back(i < int64_t(p.size()) ? p[i] : tokenizer_->pad_id());
      lengths.push_back(int64_t(p.size()));
    }
    int64_t row = -1;
    Clock::time_point row_start, first, last;
    std::unique_ptr<bool[]> stopped(new bool[prompts.size()]());
    auto close_row = [&] {
      if (row < 0) return;
      if (first == Clock::time_point()) first = last = Clock::now();
      results[row].prefill_seconds = std::chrono::duration<double>(first - row_start).count();
      results[row].decode_seconds = std::chrono::duration<double>(last - first).count();
    };
    set_emit_([&](const std::string& channel, const HostTensor& v) {
      if (channel == "prompt") {
        close_row();
        row = v.get_int(0);
        row_start = Clock::now();
        first = last = Clock::time_point();
        results[row].prompt_tokens = lengths[row];
        return false;
      }
      return on_token(results[row], static_cast<int32_t>(v.get_int(0)), stopped[row], first, last,
                      [&](const std::string& t) { on_text(row, t); });
    });
    auto out = run_("generate_batch", {HostTensor::from_ints(DType::i32, {B, L}, padded),
                                       HostTensor::from_ints(DType::i32, {B}, lengths),
                                       HostTensor::scalar(DType::i64, double(seed))});
    set_emit_(nullptr);
    if (!out.ok()) return out.error();
    close_row();
    return results;
  }

  Expected<EvaluationResult> evaluate(const std::string& text) override {
    if (text.empty()) return Error{"the text to evaluate is empty"};
    const std::vector<int32_t> ids = tokenizer_->encode(text, /*add_bos=*/true);
    const int64_t window = exp_.run.window > 0 ? exp_.run.window : config_.max_context;
    EvaluationResult r;
    r.bytes = int64_t(text.size());
    // Each window is <bos> followed by up to window - 1 ids not yet
    // predicted; every position predicts the next id, so every id after the
    // text's own <bos> is predicted exactly once, with the context of its
    // window.
    const int64_t total = int64_t(ids.size());
    Progress progress("evaluating", total - 1);
    for (int64_t next = 1; next < total;) {
      std::vector<int64_t> tokens{tokenizer_->bos_id()};
      const int64_t take = std::min<int64_t>(total - next, window - 1);
      for (int64_t i = 0; i < take; ++i) tokens.push_back(ids[next + i]);
      const int64_t n = int64_t(tokens.size());
      std::vector<int64_t> targets(tokens.begin() + 1, tokens.end());
      targets.push_back(0);
      std::vector<float> weights(n, 1.0f);
      weights.back() = 0;  // the last position has no next id in this window
      if (Status s = prepare("score", n); !s.ok()) return s.error();
      auto out = run_("score", {HostTensor::from_ints(DType::i32, {n}, tokens),
                                HostTensor::from_ints(DType::i32, {n}, targets),
                                HostTensor::from_floats(DType::f32, {n}, weights)});
      if (!out.ok()) return out.error();
      r.nll += (*out)[0].get(0);
      r.tokens += take;
      r.windows += 1;
      next += take;
      progress.update(r.tokens);
    }
    progress.finish(fmt::format("{} tokens in {} windows", r.tokens, r.windows));
    return r;
  }

 private:
  Experiment exp_;
  std::shared_ptr<const Gemma3Checkpoint> checkpoint_;
  Gemma3Config config_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<Module> module_;
  std::unique_ptr<CpuBackend> cpu_;
  std::unique_ptr<ReferenceInterpreter> interp_;
  RunFn run_;
  std::function<void(EmitFn)> set_emit_;
  std::set<std::pair<std::string, int64_t>> compiled_;
  CompileSummary summary_;
  bool profile_ = false;
  LoraAdapter adapter_;
  std::shared_ptr<WeightBindingStats> weight_stats_ = std::make_shared<WeightBindingStats>();
};

}  // namespace

Expected<std::unique_ptr<ModelSession>> ModelSession::open(const Experiment& exp, const SessionOptions& options) {
  auto s = std::make_unique<Gemma3Session>();
  if (Status st = s->open(exp, options); !st.ok()) return st.error();
  return std::unique_ptr<ModelSession>(std::move(s));
}

}  // namespace graphc::tools
