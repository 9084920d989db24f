#include "runtime/experiment.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "runtime/yaml_diagnostics.h"

namespace graphc {
namespace {

Status check_keys(const YAML::Node& map, const std::string& file, const std::string& section,
                  const std::vector<std::string>& allowed) {
  if (!map.IsMap())
    return Error{fmt::format("{}: {}: expected a mapping with keys {}", yaml_where(file, map), section,
                             join_keys(allowed))};
  for (const auto& kv : map) {
    const std::string key = kv.first.as<std::string>();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      return Error{fmt::format("{}: unknown key '{}{}'{} (allowed: {})", yaml_where(file, kv.first),
                               section.empty() ? "" : section + ".", key, did_you_mean(key, allowed),
                               join_keys(allowed))};
  }
  return Status::success();
}

Expected<std::string> pipeline_text(const YAML::Node& n, const std::string& file) {
  if (n.IsScalar()) return n.as<std::string>();
  if (n.IsSequence()) {
    std::string out;
    for (const YAML::Node& item : n) {
      if (!item.IsScalar())
        return Error{fmt::format("{}: compile.passes: each item must be a pass name", yaml_where(file, item))};
      out += (out.empty() ? "" : ",") + item.as<std::string>();
    }
    return out;
  }
  return Error{fmt::format("{}: compile.passes: expected a pipeline string or a list of pass names",
                           yaml_where(file, n))};
}

}  // namespace

Expected<std::string> expand_variables(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, 2, "${") != 0) {
      out += text[i++];
      continue;
    }
    const size_t close = text.find('}', i);
    if (close == std::string::npos) return Error{fmt::format("unterminated ${{ in '{}'", text)};
    std::string name = text.substr(i + 2, close - i - 2), fallback;
    bool has_fallback = false;
    if (const size_t dash = name.find(":-"); dash != std::string::npos) {
      fallback = name.substr(dash + 2);
      name = name.substr(0, dash);
      has_fallback = true;
    }
    const char* value = std::getenv(name.c_str());
    if (value && *value) out += value;
    else if (has_fallback) out += fallback;
    else return Error{fmt::format("environment variable {} is not set (in '{}')", name, text)};
    i = close + 1;
  }
  return out;
}

namespace {

// Typed reads of one section's scalars, each error naming file:line:col, the
// key's full path and what is allowed.
class Section {
 public:
  Section(const YAML::Node& node, std::string file, std::string path)
      : node_(node), file_(std::move(file)), path_(std::move(path)) {}

  const YAML::Node& node() const { return node_; }
  YAML::Node child(const std::string& key) const { return node_ ? node_[key] : YAML::Node(); }
  std::string key(const std::string& k) const { return path_ + "." + k; }

  Status string(const std::string& k, std::string& out) const {
    const YAML::Node n = child(k);
    if (!n) return {};
    if (!n.IsScalar()) return Error{fmt::format("{}: {}: expected a string", yaml_where(file_, n), key(k))};
    out = n.Scalar();
    return {};
  }
  Status path(const std::string& k, std::string& out) const {
    if (Status s = string(k, out); !s.ok()) return s;
    const YAML::Node n = child(k);
    if (!n) return {};
    Expected<std::string> expanded = expand_variables(out);
    if (!expanded.ok()) return Error{fmt::format("{}: {}: {}", yaml_where(file_, n), key(k), expanded.error().message)};
    out = *expanded;
    return {};
  }
  Status one_of(const std::string& k, std::string& out, const std::vector<std::string>& allowed) const {
    const YAML::Node n = child(k);
    if (!n) return {};
    const std::string v = n.IsScalar() ? n.Scalar() : "";
    if (std::find(allowed.begin(), allowed.end(), v) == allowed.end())
      return Error{fmt::format("{}: {}: expected one of {}, got '{}'{}", yaml_where(file_, n), key(k),
                               join_keys(allowed), n.IsScalar() ? v : "a non-scalar", did_you_mean(v, allowed))};
    out = v;
    return {};
  }
  template <typename Int>
  Status integer(const std::string& k, Int& out, int64_t lo, int64_t hi) const {
    const YAML::Node n = child(k);
    if (!n) return {};
    int64_t v = 0;
    bool ok = n.IsScalar();
    if (ok) {
      try {
        v = n.as<int64_t>();
      } catch (const YAML::Exception&) {
        ok = false;
      }
    }
    if (!ok || v < lo || v > hi)
      return Error{fmt::format("{}: {}: expected an integer from {} to {}, got '{}'", yaml_where(file_, n), key(k), lo,
                               hi, n.IsScalar() ? n.Scalar() : "a non-scalar")};
    out = static_cast<Int>(v);
    return {};
  }
  // A number in [lo, hi] (or (lo, hi] when lo_open).
  Status number(const std::string& k, double& out, double lo, double hi, bool lo_open = false) const {
    const YAML::Node n = child(k);
    if (!n) return {};
    double v = 0;
    bool ok = n.IsScalar();
    if (ok) {
      try {
        v = n.as<double>();
      } catch (const YAML::Exception&) {
        ok = false;
      }
    }
    if (!ok || !(lo_open ? v > lo : v >= lo) || !(v <= hi))
      return Error{fmt::format("{}: {}: expected a number in {}{}, {}], got '{}'", yaml_where(file_, n), key(k),
                               lo_open ? "(" : "[", lo, hi, n.IsScalar() ? n.Scalar() : "a non-scalar")};
    out = v;
    return {};
  }
  Status boolean(const std::string& k, bool& out) const {
    const YAML::Node n = child(k);
    if (!n) return {};
    bool ok = n.IsScalar();
    if (ok) {
      try {
        out = n.as<bool>();
      } catch (const YAML::Exception&) {
        ok = false;
      }
    }
    if (!ok)
      return Error{fmt::format("{}: {}: expected true or false, got '{}'", yaml_where(file_, n), key(k),
                               n.IsScalar() ? n.Scalar() : "a non-scalar")};
    return {};
  }

 private:
  YAML::Node node_;
  std::string file_;
  std::string path_;
};

// Sets root[a][b]...[z] = value, making maps on the way.
Status apply_override(YAML::Node& root, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    return Error{fmt::format("--set {}: expected key.path=value", assignment)};
  const std::string path = assignment.substr(0, eq);
  const std::string value = assignment.substr(eq + 1);
  std::vector<std::string> keys;
  for (size_t from = 0;;) {
    const size_t dot = path.find('.', from);
    keys.push_back(path.substr(from, dot - from));
    if (keys.back().empty()) return Error{fmt::format("--set {}: empty key in '{}'", assignment, path)};
    if (dot == std::string::npos) break;
    from = dot + 1;
  }
  // yaml-cpp nodes are handles: walk with copies, assign through them.
  std::vector<YAML::Node> chain{root};
  for (size_t i = 0; i + 1 < keys.size(); ++i) {
    YAML::Node next = chain.back()[keys[i]];
    if (next && !next.IsMap())
      return Error{fmt::format("--set {}: '{}' is not a section", assignment,
                               path.substr(0, path.find(keys[i]) + keys[i].size()))};
    if (!next) {
      chain.back()[keys[i]] = YAML::Node(YAML::NodeType::Map);
      next = chain.back()[keys[i]];
    }
    chain.push_back(next);
  }
  // A scalar without a position: errors about it say it came from --set.
  chain.back()[keys.back()] = YAML::Node(value);
  return {};
}

// The document with the overrides applied; a syntax error is positioned.
Expected<YAML::Node> load_with_overrides(const std::string& yaml_text, const std::string& file,
                                         const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return Error{fmt::format("{}:{}:{}: {}", file, e.mark.line + 1, e.mark.column + 1, e.msg)};
  }
  if (!root || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  for (const std::string& o : overrides)
    if (Status s = apply_override(root, o); !s.ok()) return s.error();
  return root;
}

// The train section; absent, the defaults stay.
Status parse_train(const YAML::Node& train, const std::string& file, Experiment& exp) {
  if (!train) return {};
  TrainOptions& t = exp.train;
  Status s = check_keys(train, file, "train",
                        {"mode", "lora", "data", "seq_len", "micro_batches", "steps", "loss_chunk", "optimizer",
                         "schedule", "eval", "checkpoint", "output", "resume"});
  if (!s.ok()) return s;
  Section tr(train, file, "train");
  for (Status st : {tr.one_of("mode", t.mode, {"lora", "full"}), tr.integer("seq_len", t.seq_len, 2, exp.model.max_context),
                    tr.integer("micro_batches", t.micro_batches, 1, 4096), tr.integer("steps", t.steps, 1, INT64_MAX),
                    tr.integer("loss_chunk", t.loss_chunk, 1, 1 << 20), tr.path("output", t.output),
                    tr.boolean("resume", t.resume)})
    if (!st.ok()) return st;
  if (const YAML::Node lora = train["lora"]) {
    if (Status st = check_keys(lora, file, "train.lora", {"targets", "rank", "alpha", "dropout", "init", "seed"});
        !st.ok())
      return st;
    Section l(lora, file, "train.lora");
    if (const YAML::Node targets = lora["targets"]; targets && targets.IsSequence()) {
      t.lora_targets.clear();
      for (const YAML::Node& item : targets) {
        if (!item.IsScalar() || item.Scalar().empty())
          return Error{fmt::format("{}: train.lora.targets: each target must be a weight-name glob", yaml_where(file, item))};
        t.lora_targets += (t.lora_targets.empty() ? "" : "|") + item.Scalar();
      }
    } else if (Status st = l.string("targets", t.lora_targets); !st.ok()) {
      return st;
    }
    for (Status st : {l.integer("rank", t.lora_rank, 1, 4096), l.number("alpha", t.lora_alpha, 0, 1e6, true),
                      l.number("dropout", t.lora_dropout, 0, 0.9), l.one_of("init", t.lora_init, {"kaiming", "zeros"}),
                      l.integer("seed", t.lora_seed, 0, INT64_MAX)})
      if (!st.ok()) return st;
  }
  if (const YAML::Node data = train["data"]) {
    if (Status st = check_keys(data, file, "train.data", {"path", "heldout_fraction", "seed"}); !st.ok()) return st;
    Section d(data, file, "train.data");
    for (Status st : {d.path("path", t.data_path), d.number("heldout_fraction", t.heldout_fraction, 0, 0.5),
                      d.integer("seed", t.data_seed, 0, INT64_MAX)})
      if (!st.ok()) return st;
  }
  if (const YAML::Node opt = train["optimizer"]) {
    if (Status st = check_keys(opt, file, "train.optimizer",
                               {"kind", "lr", "beta1", "beta2", "eps", "momentum", "weight_decay", "clip_norm"});
        !st.ok())
      return st;
    Section o(opt, file, "train.optimizer");
    for (Status st : {o.one_of("kind", t.optimizer, {"adamw", "sgd"}), o.number("lr", t.lr, 0, 10, true),
                      o.number("beta1", t.beta1, 0, 0.999999), o.number("beta2", t.beta2, 0, 0.999999),
                      o.number("eps", t.eps, 0, 1, true), o.number("momentum", t.momentum, 0, 0.999999),
                      o.number("weight_decay", t.weight_decay, 0, 10), o.number("clip_norm", t.clip_norm, 0, 1e9)})
      if (!st.ok()) return st;
  }
  if (const YAML::Node sched = train["schedule"]) {
    if (Status st = check_keys(sched, file, "train.schedule",
                               {"kind", "warmup_steps", "total_steps", "restart_every", "min_ratio"});
        !st.ok())
      return st;
    Section c(sched, file, "train.schedule");
    for (Status st : {c.one_of("kind", t.schedule, {"constant", "warmup", "cosine", "cosine_restarts"}),
                      c.integer("warmup_steps", t.warmup_steps, 0, INT64_MAX),
                      c.integer("total_steps", t.total_steps, 0, INT64_MAX),
                      c.integer("restart_every", t.restart_every, 0, INT64_MAX), c.number("min_ratio", t.min_ratio, 0, 1)})
      if (!st.ok()) return st;
    if (t.schedule == "cosine_restarts" && t.restart_every == 0)
      return Error{fmt::format("{}: train.schedule.restart_every: cosine_restarts needs the cycle length",
                               yaml_where(file, sched))};
  }
  if (const YAML::Node ev = train["eval"]) {
    if (Status st = check_keys(ev, file, "train.eval", {"every", "sequences"}); !st.ok()) return st;
    Section e(ev, file, "train.eval");
    for (Status st : {e.integer("every", t.eval_every, 0, INT64_MAX), e.integer("sequences", t.eval_sequences, 1, 1 << 20)})
      if (!st.ok()) return st;
  }
  if (const YAML::Node ck = train["checkpoint"]) {
    if (Status st = check_keys(ck, file, "train.checkpoint", {"every"}); !st.ok()) return st;
    Section c(ck, file, "train.checkpoint");
    if (Status st = c.integer("every", t.checkpoint_every, 0, INT64_MAX); !st.ok()) return st;
  }
  if (exp.run.task == "train" && t.data_path.empty())
    return Error{fmt::format("{}: train.data.path: training needs a text file or directory", yaml_where(file, train))};
  return {};
}

}  // namespace

Expected<Experiment> parse_experiment(const std::string& yaml_text, const std::string& file,
                                      const std::vector<std::string>& overrides) {
  auto loaded = load_with_overrides(yaml_text, file, overrides);
  if (!loaded.ok()) return loaded.error();
  YAML::Node root = *loaded;
  Status s = check_keys(root, file, "", {"model", "compile", "run", "train"});
  if (!s.ok()) return s.error();
  Experiment exp;
  exp.file = file;
  const YAML::Node model = root["model"];
  if (!model) return Error{fmt::format("{}: missing key 'model'", file)};
  if (model.IsMap()) {
    Section m(model, file, "model");
    if (Status st = m.path("weights", exp.weights); !st.ok()) return st.error();
    if (Status st = m.path("tokenizer", exp.tokenizer); !st.ok()) return st.error();
    if (Status st = m.path("adapter", exp.adapter); !st.ok()) return st.error();
  }
  Expected<Gemma3Config> config = gemma3_config_from_yaml(model, file, {"weights", "tokenizer", "adapter"});
  if (!config.ok()) return config.error();
  exp.model = *config;

  if (const YAML::Node compile = root["compile"]) {
    s = check_keys(compile, file, "compile", {"passes", "dtype", "threads", "cache_dir"});
    if (!s.ok()) return s.error();
    if (compile["passes"]) {
      Expected<std::string> p = pipeline_text(compile["passes"], file);
      if (!p.ok()) return p.error();
      exp.passes = *p;
    }
    Section c(compile, file, "compile");
    for (Status st : {c.one_of("dtype", exp.weights_dtype, {"stored", "f32"}), c.integer("threads", exp.threads, 0, 1024),
                      c.path("cache_dir", exp.cache_dir)})
      if (!st.ok()) return st.error();
  }

  if (const YAML::Node run = root["run"]) {
    s = check_keys(run, file, "run",
                   {"task", "prompt", "prompts_file", "chat", "max_new_tokens", "stop", "sampling", "text_file",
                    "window"});
    if (!s.ok()) return s.error();
    Section r(run, file, "run");
    RunOptions& o = exp.run;
    for (Status st : {r.one_of("task", o.task, {"generate", "evaluate", "train"}), r.string("prompt", o.prompt),
                      r.path("prompts_file", o.prompts_file), r.boolean("chat", o.chat),
                      r.integer("max_new_tokens", o.max_new_tokens, 1, exp.model.max_context),
                      r.path("text_file", o.text_file), r.integer("window", o.window, 2, exp.model.max_context)})
      if (!st.ok()) return st.error();
    if (const YAML::Node stop = run["stop"]) {
      if (stop.IsScalar()) {
        o.stop.push_back(stop.Scalar());
      } else if (stop.IsSequence()) {
        for (const YAML::Node& item : stop) {
          if (!item.IsScalar() || item.Scalar().empty())
            return Error{fmt::format("{}: run.stop: each stop string must be a non-empty string", yaml_where(file, item))};
          o.stop.push_back(item.Scalar());
        }
      } else {
        return Error{fmt::format("{}: run.stop: expected a string or a list of strings", yaml_where(file, stop))};
      }
    }
    if (run["prompt"] && run["prompts_file"])
      return Error{fmt::format("{}: run: give prompt or prompts_file, not both", yaml_where(file, run["prompts_file"]))};
    if (const YAML::Node sampling = run["sampling"]) {
      s = check_keys(sampling, file, "run.sampling",
                     {"strategy", "temperature", "top_k", "top_p", "repetition_penalty", "seed"});
      if (!s.ok()) return s.error();
      Section sm(sampling, file, "run.sampling");
      SamplingOptions& so = o.sampling;
      for (Status st : {sm.one_of("strategy", so.strategy, {"greedy", "sample"}),
                        sm.number("temperature", so.temperature, 0, 100, /*lo_open=*/true),
                        sm.integer("top_k", so.top_k, 0, exp.model.vocab), sm.number("top_p", so.top_p, 0, 1, true),
                        sm.number("repetition_penalty", so.repetition_penalty, 0, 100, true),
                        sm.integer("seed", so.seed, 0, INT64_MAX)})
        if (!st.ok()) return st.error();
    }
    if (o.task == "evaluate" && o.text_file.empty())
      return Error{fmt::format("{}: run.text_file: the evaluate task needs the text to score", yaml_where(file, run))};
  }
  if (Status st = parse_train(root["train"], file, exp); !st.ok()) return st.error();
  if (exp.run.task == "train" && !root["train"])
    return Error{fmt::format("{}: run.task is train but there is no train section", file)};
  return exp;
}

Expected<std::string> experiment_with_overrides(const std::string& yaml_text, const std::string& file,
                                                const std::vector<std::string>& overrides) {
  auto loaded = load_with_overrides(yaml_text, file, overrides);
  if (!loaded.ok()) return loaded.error();
  YAML::Node root = *loaded;
  YAML::Emitter out;
  out << root;
  return std::string(out.c_str()) + "\n";
}

Expected<Experiment> load_experiment(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path);
  if (!in) return Error{fmt::format("{}: cannot open the experiment file", path)};
  std::stringstream text;
  text << in.rdbuf();
  return parse_experiment(text.str(), path, overrides);
}

std::string default_cache_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/graphc";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/graphc";
  return "";
}


}  // namespace graphc
