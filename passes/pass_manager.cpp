#include "passes/pass_manager.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "ir/verifier.h"
#include "passes/pass_registry.h"

namespace graphc {
namespace {

bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Reads one item, `name` or `name{k=v,...}`, at text[pos...]; leaves pos after it.
class PipelineParser {
 public:
  explicit PipelineParser(std::string_view text) : text_(text) {}

  Expected<Pipeline> parse() {
    Pipeline p;
    skip_space();
    if (pos_ == text_.size()) return p;
    while (true) {
      Expected<PipelineEntry> e = entry();
      if (!e.ok()) return e.error();
      p.entries.push_back(std::move(*e));
      skip_space();
      if (pos_ == text_.size()) break;
      if (text_[pos_] != ',') return error("expected ',' between passes");
      ++pos_;
      skip_space();
    }
    return p;
  }

 private:
  Expected<PipelineEntry> entry() {
    PipelineEntry e;
    const size_t start = pos_;
    while (pos_ < text_.size() && is_name_char(text_[pos_])) ++pos_;
    if (pos_ == start) return error("expected a pass name");
    e.name = std::string(text_.substr(start, pos_ - start));
    if (!is_registered_pass(e.name)) {
      std::string known;
      for (const PassInfo& p : all_passes()) known += (known.empty() ? "" : ", ") + p.name;
      return Error{fmt::format("pipeline '{}': unknown pass '{}' (known passes: {})", text_, e.name, known)};
    }
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == '{') {
      ++pos_;
      Status s = options(e);
      if (!s.ok()) return s.error();
    }
    return e;
  }

  Status options(PipelineEntry& e) {
    while (true) {
      const size_t key_start = pos_;
      while (pos_ < text_.size() && text_[pos_] != '=' && text_[pos_] != ',' && text_[pos_] != '}') ++pos_;
      std::string key(trim(text_.substr(key_start, pos_ - key_start)));
      if (key.empty()) return error("expected an option name");
      if (pos_ == text_.size() || text_[pos_] != '=') return error("expected '=' after option '" + key + "'");
      ++pos_;
      const size_t value_start = pos_;
      while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '}' && text_[pos_] != '{') ++pos_;
      std::string value(trim(text_.substr(value_start, pos_ - value_start)));
      if (value.empty()) return error("expected a value for option '" + key + "'");
      if (e.options.has(key)) return error("option '" + key + "' given twice");
      e.options.set(key, value);
      if (pos_ == text_.size() || text_[pos_] == '{') return error("expected ',' or '}' in the options of " + e.name);
      if (text_[pos_++] == '}') return Status::success();
    }
  }

  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }

  Error error(const std::string& what) const {
    const std::string found = pos_ < text_.size() ? fmt::format("'{}'", text_[pos_]) : "the end";
    return Error{fmt::format("pipeline '{}': column {}: {}, found {}", text_, pos_ + 1, what, found)};
  }

  std::string_view text_;
  size_t pos_ = 0;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string counters_text(const PassStats& stats) {
  std::string out;
  for (const auto& [k, v] : stats.counters) out += fmt::format("{}{}={}", out.empty() ? "" : ", ", k, v);
  return out;
}

// Writes a file whole or not at all: a temporary next to it, then a rename.
bool write_text_file(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return false;
    out << text;
    if (!out.flush()) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

}  // namespace

// ---- Pipelines ----------------------------------------------------------------

std::string Pipeline::str() const {
  std::string out;
  for (const PipelineEntry& e : entries) out += (out.empty() ? "" : ",") + e.str();
  return out;
}

Expected<Pipeline> parse_pipeline(std::string_view text) { return PipelineParser(text).parse(); }

Expected<Pipeline> parse_pipeline_yaml(std::string_view yaml) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return Error{fmt::format("pipeline YAML: line {}, column {}: {}", e.mark.line + 1, e.mark.column + 1, e.msg)};
  }
  const auto where = [](const YAML::Node& n) {
    return fmt::format("pipeline YAML: line {}, column {}", n.Mark().line + 1, n.Mark().column + 1);
  };
  if (root.IsNull()) return Pipeline{};
  if (root.IsScalar()) return parse_pipeline(root.Scalar());
  if (!root.IsSequence()) return Error{where(root) + ": expected a list of passes"};
  Pipeline out;
  for (const YAML::Node& item : root) {
    if (item.IsScalar()) {
      Expected<Pipeline> one = parse_pipeline(item.Scalar());
      if (!one.ok()) return Error{where(item) + ": " + one.error().message};
      if (one->entries.size() != 1) return Error{where(item) + ": expected one pass per list item"};
      out.entries.push_back(one->entries[0]);
      continue;
    }
    if (!item.IsMap() || item.size() != 1)
      return Error{where(item) + ": expected a pass name or a map {pass: {option: value}}"};
    const auto kv = *item.begin();
    Expected<Pipeline> named = parse_pipeline(kv.first.as<std::string>());
    if (!named.ok()) return Error{where(item) + ": " + named.error().message};
    if (named->entries.size() != 1 || !named->entries[0].options.empty())
      return Error{where(item) + ": expected a pass name as the key"};
    PipelineEntry e = named->entries[0];
    if (!kv.second.IsNull()) {
      if (!kv.second.IsMap()) return Error{where(kv.second) + ": the options of " + e.name + " must be a map"};
      for (const auto& opt : kv.second) {
        if (!opt.second.IsScalar())
          return Error{where(opt.second) + ": option '" + opt.first.as<std::string>() + "' must be a scalar"};
        e.options.set(opt.first.as<std::string>(), opt.second.Scalar());
      }
    }
    out.entries.push_back(std::move(e));
  }
  return out;
}

std::string default_pipeline() {
  std::string fusions;
  for (std::string_view rest = kFusionPasses; !rest.empty();) {
    const size_t comma = rest.find(',');
    const std::string name(rest.substr(0, comma));
    if (is_registered_pass(name)) fusions += "," + name;
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  }
  std::string out = kCleanupPipeline;
  if (!fusions.empty()) out += fusions + "," + kLayoutPasses + "," + kPostFusionCleanup;
  return out;
}

bool pass_name_matches(std::string_view glob, std::string_view name) {
  if (glob == "all") return true;
  // Iterative wildcard match with backtracking to the last '*'.
  size_t g = 0, n = 0, star = std::string_view::npos, mark = 0;
  while (n < name.size()) {
    if (g < glob.size() && (glob[g] == '?' || glob[g] == name[n])) {
      ++g;
      ++n;
    } else if (g < glob.size() && glob[g] == '*') {
      star = g++;
      mark = n;
    } else if (star != std::string_view::npos) {
      g = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (g < glob.size() && glob[g] == '*') ++g;
  return g == glob.size();
}

// ---- Reports ------------------------------------------------------------------

std::string PipelineReport::table(bool with_times) const {
  size_t width = 4;
  for (const PassRecord& r : passes) width = std::max(width, r.pass.size());
  std::string out = fmt::format("{:>3}  {:<{}}", "#", "pass", width);
  if (with_times) out += fmt::format("  {:>9}", "time ms");
  out += fmt::format("  {:>8} -> {:<8}  {:<7}  {}\n", "ops", "ops", "changed", "counters");
  double total = 0;
  for (const PassRecord& r : passes) {
    out += fmt::format("{:>3}  {:<{}}", r.index, r.pass, width);
    if (with_times) out += fmt::format("  {:>9.3f}", r.seconds * 1e3);
    std::string row = fmt::format("  {:>8} -> {:<8}  {:<7}  {}", r.ops_before, r.ops_after, r.changed ? "yes" : "no",
                                  counters_text(r.stats));
    out += row.substr(0, row.find_last_not_of(' ') + 1) + "\n";
    total += r.seconds;
  }
  if (with_times && !passes.empty())
    out += fmt::format("{:>3}  {:<{}}  {:>9.3f}\n", "", "total", width, total * 1e3);
  return out;
}

std::string IrStage::title(int num_passes) const {
  if (when == When::Before && index == 0) return "// ----- input -----";
  return fmt::format("// ----- {} {} ({}/{}){} -----", when == When::Before ? "before" : "after", pass, index,
                     num_passes, when == When::After && !changed ? ", unchanged" : "");
}

// ---- Running ------------------------------------------------------------------

bool PassManager::wants(const std::vector<std::string>& globs, const std::string& pass) const {
  for (const std::string& g : globs)
    if (pass_name_matches(g, pass)) return true;
  return false;
}

void PassManager::show(const IrStage& stage) const {
  if (observer_) return observer_(stage);
  const std::string text = print_module(*stage.module, PrintOptions{.max_constant_elements = 16});
  std::fputs((stage.title(static_cast<int>(pipeline_.entries.size())) + "\n" + text).c_str(), stdout);
}

void PassManager::write_reproducer(const Module& module, const std::string& input_text, const PipelineEntry& entry,
                                   std::string& message) const {
  if (options_.dump_dir.empty()) return;
  std::string stem = module.name();
  for (char& c : stem)
    if (!is_name_char(c)) c = '_';
  if (stem.empty() || stem[0] == '.') stem = "module" + stem;
  const std::filesystem::path dir(options_.dump_dir);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::filesystem::path graph = dir / (stem + ".failed.graph");
  const std::filesystem::path pipeline = dir / (stem + ".failed.pipeline");
  if (ec || !write_text_file(graph, input_text) || !write_text_file(pipeline, entry.str() + "\n")) {
    message += fmt::format("\n(could not write the reproducer to {})", dir.string());
    return;
  }
  message += fmt::format("\nthe IR it received is in {}; reproduce with: pass-dump {} --passes='{}'", graph.string(),
                         graph.string(), entry.str());
}

Expected<PipelineReport> PassManager::run(Module& module) {
  const int n = static_cast<int>(pipeline_.entries.size());
  std::vector<std::unique_ptr<Pass>> passes;
  for (const PipelineEntry& e : pipeline_.entries) {
    Expected<std::unique_ptr<Pass>> p = create_pass(e.name, e.options);
    if (!p.ok()) return p.error();
    passes.push_back(std::move(*p));
  }
  if (verify_each()) {
    Status s = verify_module(module);
    if (!s.ok()) return Error{"the pipeline's input does not verify: " + s.error().message};
  }
  PipelineReport report;
  report.pipeline = pipeline_.str();
  if (print_input_) show(IrStage{.when = IrStage::When::Before, .index = 0, .pass = "input", .module = &module});

  for (int i = 0; i < n; ++i) {
    const PipelineEntry& entry = pipeline_.entries[i];
    PassRecord record;
    record.index = i + 1;
    record.pass = entry.str();
    record.ops_before = count_ops(module);
    const std::string input_text = options_.dump_dir.empty() ? "" : print_module(module);
    if (wants(before_, entry.name))
      show(IrStage{.when = IrStage::When::Before, .index = i + 1, .pass = entry.str(), .module = &module});

    const auto t0 = std::chrono::steady_clock::now();
    Expected<bool> changed = Error{};
    try {
      changed = passes[i]->run(module, record.stats);
    } catch (const std::exception& e) {
      changed = Error{e.what()};
    }
    record.seconds = seconds_since(t0);
    // From here on the module is no longer the text it was read from: the
    // verifier's lines refer to it as printed, as pass-dump and the
    // reproducer show it.
    for (const auto& f : module.functions()) walk(f->body(), [](Op* op) { op->set_line(0); });
    const std::string which = fmt::format("pass '{}' ({}/{} of '{}')", entry.str(), i + 1, n, pipeline_.str());
    if (!changed.ok()) {
      std::string message = which + " failed: " + changed.error().message;
      write_reproducer(module, input_text, entry, message);
      return Error{message};
    }
    if (verify_each()) {
      Status s = verify_module(module);
      if (!s.ok()) {
        std::string message = which + " broke the verifier: " + s.error().message;
        write_reproducer(module, input_text, entry, message);
        return Error{message};
      }
    }
    record.changed = *changed;
    record.ops_after = count_ops(module);
    if (wants(after_, entry.name) && (!only_changed_ || record.changed))
      show(IrStage{.when = IrStage::When::After, .index = i + 1, .pass = entry.str(), .changed = record.changed,
                   .module = &module});
    report.passes.push_back(std::move(record));
  }
  return report;
}

Expected<PipelineReport> run_pipeline(Module& module, std::string_view pipeline, PassManagerOptions options) {
  Expected<Pipeline> p = parse_pipeline(pipeline);
  if (!p.ok()) return p.error();
  PassManager pm(std::move(*p), std::move(options));
  return pm.run(module);
}

}  // namespace graphc
