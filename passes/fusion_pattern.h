// What the fusion passes (fuse_*.cpp) share: who uses a value, reading splat
// constants, naming values in remarks as the pass's input prints them, and
// replacing a matched subgraph by a fused op.
//
// A FusionRewriter works on one function at a time. Ops a rewrite leaves
// without users are taken out of their block at once but kept alive until the
// rewriter is destroyed, so pointers held by the pass (a snapshot of a block's
// ops, the names of the input's values) stay valid and unambiguous while it
// rewrites; is_removed() tells a pass to skip them.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ir/module.h"
#include "passes/pass.h"

namespace graphc {

// The defining op of v if it is of kind `kind`, else null.
Op* defined_by(const Value* v, std::string_view kind);
// The value of a `constant` op whose elements are all equal (a splat), if v is one.
std::optional<double> splat_constant(const Value* v);
// Whether v is a splat constant equal to `want` once both are rounded to v's
// dtype (what the tensor holds), e.g. 0.044715 in f32.
bool is_splat(const Value* v, double want);
// A normalised single axis: the `axes` of a reduce or an `axis` attribute
// that names the last axis of a rank-`rank` tensor.
bool is_last_axis(int64_t axis, int rank);

class FusionRewriter {
 public:
  FusionRewriter(std::string pass_name, Function& fn, PassStats& stats);
  ~FusionRewriter();
  FusionRewriter(const FusionRewriter&) = delete;
  FusionRewriter& operator=(const FusionRewriter&) = delete;

  Function& function() const { return fn_; }

  // Every block of the function: the body, then each op's regions, nested,
  // in order. Regions of ops for which `enter(op)` is false are skipped.
  std::vector<Block*> blocks(const std::function<bool(const Op&)>& enter = nullptr) const;
  // The ops of `block` as they are now; skip the ones is_removed() names.
  static std::vector<Op*> snapshot(const Block& block);
  bool is_removed(const Op* op) const { return removed_set_.count(op) != 0; }

  // The ops using v, once per use, anywhere in the function.
  const std::vector<Op*>& users(const Value* v);
  // Every use of v is by an op of `pattern`.
  bool used_only_by(const Value* v, const std::vector<Op*>& pattern);
  // The single user of v, if it has exactly one use.
  Op* single_user(const Value* v);
  // The one user of v of kind `kind` (that also satisfies `pred`), if there
  // is exactly one; other users are left for used_only_by() to report.
  Op* user_of_kind(const Value* v, std::string_view kind, const std::function<bool(const Op&)>& pred = nullptr);

  // "%12" as the function printed when the pass began; a value made by the
  // pass is named by its op ("the result of rms_norm").
  std::string name(const Value* v) const;
  // Records why a pattern that looked like a match did not fuse:
  // "fuse-rmsnorm: %12 in @decode_step not fused: <why>".
  void refuse(const Value* at, const std::string& why);

  // A new op of `kind` before `at`, its results inferred. If it does not type
  // check, nothing is inserted and the message says why.
  Expected<Op*> insert_before(Op* at, const std::string& kind, std::vector<Value*> operands, AttrMap attrs = {});
  // Same for an op built by the caller (with regions, say); results are inferred.
  Expected<Op*> insert_before(Op* at, std::unique_ptr<Op> op);
  // Points every use of `old_value` at `replacement` (which takes its name
  // hint), then removes the ops of `pattern` left without users. Counts one
  // "fused" in the stats.
  void replace(Value* old_value, Value* replacement, const std::vector<Op*>& pattern);

 private:
  void index_users();
  std::string pass_;
  Function& fn_;
  PassStats& stats_;
  std::unordered_map<const Value*, std::string> names_;
  std::unordered_map<const Value*, std::vector<Op*>> users_;
  bool users_valid_ = false;
  std::vector<std::unique_ptr<Op>> removed_;
  std::unordered_set<const Op*> removed_set_;
};

// Runs `fuse_function` on every function of the module with a fresh
// rewriter; returns whether any fusion fired (the "fused" counter grew).
template <typename F>
bool for_each_function(const std::string& pass_name, Module& module, PassStats& stats, F&& fuse_function) {
  const int64_t before = stats.counters.count("fused") ? stats.counters["fused"] : 0;
  for (const auto& fn : module.functions()) {
    FusionRewriter rw(pass_name, *fn, stats);
    fuse_function(rw);
  }
  stats.count("fused", 0);  // the counter is present even when nothing fused
  return stats.counters["fused"] > before;
}

}  // namespace graphc
