// pass-dump: shows the IR between compiler passes.
//
//   pass-dump model.graph                                  every stage of the default pipeline
//   pass-dump model.graph --passes=cse,dce --after='fuse-*' --only-changed
//   pass-dump --preset=gemma3-270m --function=decode_step --format=diff --stats
//   pass-dump model.graph --format=dot > stages.dot
//
// Stages print to stdout in pipeline order, the statistics table after them.
// The text of every stage parses back as input (with --elide-constants=-1),
// so a stage and a pipeline string make a bug report. When a pass fails or
// breaks the verifier, the message names the pass and the op, and
// --dump-dir keeps the IR that pass received.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <map>

#include "graphs/gemma3.h"
#include "runtime/experiment.h"
#include "tools/train_config.h"
#include "ir/printer.h"
#include "passes/ir_diff.h"
#include "passes/memory_plan.h"
#include "passes/pass_manager.h"
#include "passes/pass_registry.h"
#include "tools/tool_support.h"

namespace graphc::tools {
namespace {

struct DumpOptions {
  std::string format = "text";
  std::string function;  // only this function, if set
  int64_t elide = 16;
};

std::string stage_text(const Module& m, const DumpOptions& o) {
  const PrintOptions print{.max_constant_elements = o.elide};
  if (o.function.empty()) return print_module(m, print);
  const Function* f = m.function(o.function);
  return f ? print_function(*f, print) : "";
}

// ---- dot: each function's dataflow ---------------------------------------------

std::string dot_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// Ops are boxes labelled "%name = kind : type", block arguments (a
// function's parameters, a loop's index and carries) are ellipses, and
// an edge runs from each value's producer to each op that reads it. A
// region's ops sit in a cluster under their op.
class DotWriter {
 public:
  DotWriter(const Function& f, const PrintedModule& names, std::string title)
      : f_(f), names_(names), title_(std::move(title)) {}

  std::string write() {
    out_ = fmt::format("digraph \"{}\" {{\n  label=\"{}\";\n  labelloc=t;\n  node [shape=box, fontname=monospace];\n",
                       dot_escape(title_), dot_escape(title_));
    block(*f_.body(), "  ");
    out_ += edges_ + "}\n";
    return out_;
  }

 private:
  // Returns the node of the block's terminator.
  std::string block(const Block& b, const std::string& indent) {
    std::string last;
    for (const auto& a : b.args())
      out_ += fmt::format("{}{} [shape=ellipse, label=\"{}\"];\n", indent, node_of(a.get()),
                          dot_escape("%" + name(a.get()) + " : " + a->type().str()));
    for (const auto& op : b.ops()) {
      const std::string id = "op" + std::to_string(next_++);
      last = id;
      std::string results;
      for (const auto& r : op->results()) {
        results += (results.empty() ? "%" : ", %") + name(r.get());
        producer_[r.get()] = id;
      }
      std::string types;
      for (const auto& r : op->results()) types += (types.empty() ? " : " : ", ") + r->type().str();
      out_ += fmt::format("{}{} [label=\"{}\"];\n", indent, id,
                          dot_escape((results.empty() ? "" : results + " = ") + op->name() + types));
      for (Value* v : op->operands()) edges_ += fmt::format("  {} -> {};\n", node_of(v), id);
      for (int r = 0; r < op->num_regions(); ++r) {
        out_ += fmt::format("{}subgraph cluster_{}_{} {{\n{}  label=\"{} region {}\";\n", indent, id, r, indent,
                            op->name(), r);
        const std::string yield = block(*op->region(r), indent + "  ");
        out_ += indent + "}\n";
        if (!yield.empty()) edges_ += fmt::format("  {} -> {} [style=dashed];\n", yield, id);
      }
    }
    return last;
  }

  std::string name(const Value* v) const {
    auto it = names_.name_of_value.find(v);
    return it == names_.name_of_value.end() ? "?" : it->second;
  }
  std::string node_of(const Value* v) {
    auto it = producer_.find(v);
    if (it != producer_.end()) return it->second;
    const std::string id = "v" + std::to_string(next_++);
    producer_[v] = id;
    return id;
  }

  const Function& f_;
  const PrintedModule& names_;
  std::string title_;
  std::string out_, edges_;
  std::map<const Value*, std::string> producer_;
  int next_ = 0;
};

std::string stage_dot(const Module& m, const std::string& title, const DumpOptions& o) {
  const PrintedModule names = print_module_with_locations(m);
  std::string out;
  for (const auto& f : m.functions())
    if (o.function.empty() || f->name() == o.function)
      out += DotWriter(*f, names, title + " @" + f->name()).write();
  return out;
}

// ---- the tool -------------------------------------------------------------------

std::vector<std::string> split_globs(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    std::string g = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!g.empty()) out.push_back(g);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

void list_passes() {
  size_t width = 0;
  const std::vector<PassInfo> passes = all_passes();
  for (const PassInfo& p : passes) width = std::max(width, p.name.size());
  for (const PassInfo& p : passes) fmt::print("{:<{}}  {}\n", p.name, width, p.summary);
  fmt::print("\ndefault pipeline: {}\n", default_pipeline());
}

std::string remarks_text(const PipelineReport& report) {
  std::string out;
  for (const PassRecord& r : report.passes)
    for (const std::string& remark : r.stats.remarks) {
      // Passes usually start a remark with their name; do not say it twice.
      const std::string name = r.pass.substr(0, r.pass.find('{'));
      out += remark.rfind(name + ": ", 0) == 0 ? "  " + remark + "\n" : fmt::format("  {}: {}\n", name, remark);
    }
  return out.empty() ? "" : "remarks:\n" + out;
}

int pass_dump_main(int argc, char** argv) {
  CLI::App app{"pass-dump: prints a program's IR between compiler passes"};
  app.set_version_flag("--version", std::string("pass-dump ") + kVersion);
  std::string input, preset, passes, after, before, dump_dir;
  DumpOptions dump;
  bool stats = false, no_times = false, only_changed = false, no_verify = false, list = false;
  app.add_option("input", input, "IR text file (.graph) or experiment (.yaml)");
  app.add_option("--preset", preset, "instead of a file: the Gemma-3 graph of a preset (e.g. gemma3-270m)");
  std::vector<std::string> overrides;
  app.add_option("--set", overrides, "override an experiment key: --set compile.passes=cse,dce (repeatable)");
  app.add_option("--passes", passes, "the pipeline, e.g. 'canonicalize,cse,specialize-shapes{seq=8},dce' "
                                     "(default: the default pipeline)");
  app.add_option("--after", after, "print the IR after passes matching these globs: all, fuse-*, cse,dce "
                                   "(default: all, when --before is not given)");
  app.add_option("--before", before, "print the IR before passes matching these globs");
  app.add_flag("--only-changed", only_changed, "skip passes that changed nothing");
  app.add_option("--format", dump.format, "text, diff (what each pass changed) or dot (Graphviz)")
      ->check(CLI::IsMember({"text", "diff", "dot"}));
  app.add_option("--function", dump.function, "show only this function");
  app.add_flag("--stats", stats, "print a table: pass, time, ops before -> after, changed, counters");
  app.add_flag("--no-times", no_times, "leave times out of the table (stable output)");
  app.add_flag("--list-passes", list, "list the registered passes and the default pipeline");
  app.add_flag("--no-verify", no_verify, "do not run the verifier after each pass");
  app.add_option("--dump-dir", dump_dir, "when a pass fails, write the IR it received and its pipeline here");
  app.add_option("--elide-constants", dump.elide, "print at most this many elements of a constant (-1: all)");
  bool plan = false;
  int64_t plan_seq = 128;
  std::string plan_format = "text";
  app.add_flag("--plan", plan, "after the pipeline, print each function's memory plan (arena, lower bound, offsets)");
  app.add_option("--plan-seq", plan_seq, "--plan: the value of every symbolic dim (seq, batch)")->capture_default_str();
  app.add_option("--plan-format", plan_format, "--plan: text or json")->check(CLI::IsMember({"text", "json"}));
  CLI11_PARSE(app, argc, argv);

  if (list) {
    list_passes();
    return 0;
  }
  if (input.empty() == preset.empty()) throw GraphcError("give an IR file or --preset (one of them)");

  std::unique_ptr<Module> module;
  std::string experiment_passes;
  const bool is_experiment = input.ends_with(".yaml") || input.ends_with(".yml");
  if (is_experiment) {
    Expected<Experiment> exp = load_experiment(input, overrides);
    if (!exp.ok()) throw GraphcError(exp.error().message);
    module = build_gemma3(exp->model);
    experiment_passes = exp->passes;
    // A training experiment: @train_grads, @train_step, @train_loop and
    // @eval_loss too, with its adapters.
    if (exp->run.task == "train")
      if (Status s = add_training(*module, exp->model, train_config(exp->train)); !s.ok())
        throw GraphcError(input + ": train: " + s.error().message);
  } else if (!preset.empty()) {
    Expected<Gemma3Config> config = gemma3_preset(preset);
    if (!config.ok()) throw GraphcError(config.error().message);
    module = build_gemma3(*config);
  } else {
    Expected<std::unique_ptr<Module>> m = load_module(input);
    if (!m.ok()) throw GraphcError(m.error().message);
    module = std::move(*m);
  }
  if (!dump.function.empty() && !module->function(dump.function))
    throw GraphcError(fmt::format("no function @{} in module @{}", dump.function, module->name()));

  // --passes wins over the experiment's compile.passes; "default" names the default pipeline.
  std::string pipeline_text = app.count("--passes") ? passes : experiment_passes;
  if (pipeline_text.empty() || pipeline_text == "default") pipeline_text = default_pipeline();
  Expected<Pipeline> pipeline = parse_pipeline(pipeline_text);
  if (!pipeline.ok()) throw GraphcError(pipeline.error().message);
  const int n = static_cast<int>(pipeline->entries.size());
  PassManager pm(*pipeline, PassManagerOptions{.verify_each = !no_verify, .dump_dir = dump_dir});
  std::vector<std::string> after_globs = split_globs(after), before_globs = split_globs(before);
  // Without a selection: the input and the IR after every pass.
  const bool everything = !app.count("--after") && !app.count("--before");
  if (everything) after_globs = {"all"};
  pm.print_input(everything);
  pm.print_ir_after(after_globs);
  pm.print_only_when_changed(only_changed);

  // diff: the input in full, then what each selected pass changed, against
  // the IR just before it.
  std::string base;
  if (dump.format == "diff") {
    pm.print_ir_before(after_globs);
    pm.set_ir_observer([&](const IrStage& s) {
      const std::string text = stage_text(*s.module, dump);
      if (s.when == IrStage::When::Before) {
        if (s.index == 0) fmt::print("{}\n{}", s.title(n), text);
        else base = text;
        return;
      }
      const std::string d = unified_diff(base, text, fmt::format("before {} ({}/{})", s.pass, s.index, n),
                                         fmt::format("after {} ({}/{})", s.pass, s.index, n));
      fmt::print("{}\n{}", s.title(n), d.empty() ? "// no change\n" : d);
    });
  } else {
    pm.print_ir_before(before_globs);
    pm.set_ir_observer([&](const IrStage& s) {
      if (dump.format == "dot") {
        const std::string label =
            s.index == 0 ? "input"
                         : fmt::format("{} {} ({}/{})", s.when == IrStage::When::Before ? "before" : "after", s.pass,
                                       s.index, n);
        fmt::print("{}", stage_dot(*s.module, label, dump));
      } else {
        fmt::print("{}{}\n{}", s.index == 0 ? "" : "\n", s.title(n), stage_text(*s.module, dump));
      }
    });
  }

  Expected<PipelineReport> report = pm.run(*module);
  std::fflush(stdout);
  if (!report.ok()) throw GraphcError(report.error().message);
  if (stats) fmt::print("// ----- statistics -----\n{}{}", report->table(!no_times), remarks_text(*report));
  if (plan) {
    for (const auto& f : module->functions()) {
      if (!dump.function.empty() && f->name() != dump.function) continue;
      SymbolBindings bindings;
      walk(f->body(), [&](Op* op) {
        for (const auto& r : op->results())
          for (const Dim& d : r->shape())
            if (!d.is_static()) bindings[d.symbol] = plan_seq;
      });
      for (int i = 0; i < f->num_params(); ++i)
        for (const Dim& d : f->param(i)->shape())
          if (!d.is_static()) bindings[d.symbol] = plan_seq;
      auto p = plan_memory(*f, bindings);
      if (!p.ok()) throw GraphcError(p.error().message);
      fmt::print("{}\n", plan_format == "json" ? p->to_json() : p->report());
    }
  }
  return 0;
}

}  // namespace
}  // namespace graphc::tools

int main(int argc, char** argv) {
  return graphc::tools::run_tool("pass-dump", graphc::tools::pass_dump_main, argc, argv);
}
