// The pass manager: runs a pipeline of passes over a module, verifying after
// each one, timing it and counting what it did, and showing the IR between
// passes on request.
//
//   Expected<Pipeline> p = parse_pipeline("canonicalize,cse,specialize-shapes{seq=128},dce");
//   PassManager pm(*p);
//   pm.print_ir_after({"fuse-*"});
//   Expected<PipelineReport> report = pm.run(module);
//
// A pipeline is data: a string as above (MLIR's `name{key=value,...}`
// spelling) or a YAML list of the same items, and it prints back to the
// string it was parsed from. When a pass fails or breaks the verifier, the run
// stops with one error naming the pass (and, from the verifier, the op and its
// line); with a dump directory set, the input IR and the pipeline that broke it
// are written there, so a bug report is one file plus one pipeline string.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ir/printer.h"
#include "ir/status.h"
#include "passes/pass.h"

namespace graphc {

// ---- Pipelines ----------------------------------------------------------------

struct PipelineEntry {
  std::string name;
  PassOptions options;
  std::string str() const { return name + options.str(); }  // "specialize-shapes{seq=128}"
  bool operator==(const PipelineEntry& o) const { return name == o.name && options == o.options; }
};

struct Pipeline {
  std::vector<PipelineEntry> entries;
  std::string str() const;  // "canonicalize,cse,dce": parse_pipeline(str()) gives the same pipeline
  bool operator==(const Pipeline& o) const { return entries == o.entries; }
};

// Parses `a,b{k=v,k2=v2},c`. Whitespace around names, keys and values is
// ignored; an empty string is the empty pipeline. Names must be registered
// passes (an unknown name is an error listing the known ones); options are
// checked by the pass when the pipeline is instantiated.
Expected<Pipeline> parse_pipeline(std::string_view text);
// A YAML list whose items are strings in the syntax above (`- cse`,
// `- specialize-shapes{seq=128}`) or one-key maps (`- specialize-shapes: {seq: 128}`);
// a plain YAML string is parsed as a pipeline string.
Expected<Pipeline> parse_pipeline_yaml(std::string_view yaml);

// The default pipeline: cleanup, then the fusions that are registered (a
// fusion not built into this binary is left out), then cleanup after them.
inline constexpr const char* kCleanupPipeline = "canonicalize,fold-constants,cse,dce";
inline constexpr const char* kFusionPasses = "fuse-rmsnorm,fuse-rope,fuse-attention,fuse-geglu,fuse-elementwise";
// After the fusions (whose patterns match the model's ops as written).
inline constexpr const char* kLayoutPasses = "transpose-to-reshape";
inline constexpr const char* kPostFusionCleanup = "cse,dce";
std::string default_pipeline();

// Whether a pass name matches a glob: `*` any run of characters, `?` one;
// "all" matches every pass.
bool pass_name_matches(std::string_view glob, std::string_view name);

// ---- Running ------------------------------------------------------------------

// What one pass did.
struct PassRecord {
  int index = 0;           // 1-based position in the pipeline
  std::string pass;        // as written in the pipeline, options included
  double seconds = 0;
  int64_t ops_before = 0;  // every op of every function, nested regions and terminators included
  int64_t ops_after = 0;
  bool changed = false;
  PassStats stats;
};

struct PipelineReport {
  std::string pipeline;
  std::vector<PassRecord> passes;
  // A table: pass, time, ops before -> after, changed, counters. Without
  // times the text depends only on the input and the pipeline.
  std::string table(bool with_times = true) const;
};

// One point between passes where the IR may be shown.
struct IrStage {
  enum class When { Before, After };
  When when = When::After;
  int index = 0;       // the pass's 1-based position; 0 with When::Before is the pipeline input
  std::string pass;    // as written in the pipeline; "input" for the pipeline input
  bool changed = true; // for After: whether the pass changed the module
  const Module* module = nullptr;
  // "// ----- after cse (2/4) -----", "// ----- input -----"
  std::string title(int num_passes) const;
};
using IrObserver = std::function<void(const IrStage&)>;

struct PassManagerOptions {
  // Verify the input and the module after every pass. Debug builds (and so
  // every sanitizer test run) verify regardless; only release builds can
  // switch it off.
  bool verify_each = true;
  // Where to write the reproducer when a pass fails: <module>.failed.graph,
  // the IR the failing pass received, and <module>.failed.pipeline, that pass
  // as a pipeline string. Empty: write nothing.
  std::string dump_dir;
};

class PassManager {
 public:
  PassManager() = default;
  explicit PassManager(Pipeline pipeline, PassManagerOptions options = {})
      : pipeline_(std::move(pipeline)), options_(std::move(options)) {}

  const Pipeline& pipeline() const { return pipeline_; }
  PassManagerOptions& options() { return options_; }
#ifdef NDEBUG
  bool verify_each() const { return options_.verify_each; }
#else
  bool verify_each() const { return true; }
#endif

  // Which stages reach the observer; globs on pass names ("all", "fuse-*").
  void print_ir_before(std::vector<std::string> globs) { before_ = std::move(globs); }
  void print_ir_after(std::vector<std::string> globs) { after_ = std::move(globs); }
  // Also show the pipeline's input (stage 0).
  void print_input(bool on) { print_input_ = on; }
  // Skip After stages of passes that changed nothing.
  void print_only_when_changed(bool on) { only_changed_ = on; }
  // Receives every selected stage. Without one, stages print to stdout.
  void set_ir_observer(IrObserver observer) { observer_ = std::move(observer); }

  // Runs the pipeline; the module is rewritten in place. On an error the
  // module is left as the failing pass left it.
  Expected<PipelineReport> run(Module& module);

 private:
  bool wants(const std::vector<std::string>& globs, const std::string& pass) const;
  void show(const IrStage& stage) const;
  void write_reproducer(const Module& module, const std::string& input_text, const PipelineEntry& entry,
                        std::string& message) const;

  Pipeline pipeline_;
  PassManagerOptions options_;
  std::vector<std::string> before_, after_;
  bool print_input_ = false;
  bool only_changed_ = false;
  IrObserver observer_;
};

// Parses and runs a pipeline string in one go (tests, tools).
Expected<PipelineReport> run_pipeline(Module& module, std::string_view pipeline, PassManagerOptions options = {});

}  // namespace graphc
