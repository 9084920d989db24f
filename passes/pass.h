// A pass: one rewrite of a module, registered by name. run() returns whether
// it changed anything; statistics it records show up in pass-dump --stats.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ir/module.h"
#include "ir/op_registry.h"
#include "ir/status.h"

namespace graphc {

// What a pass reports about one run, beyond "changed": counters such as
// "ops fused" or "bytes of constants folded", and the reasons a pattern did
// not fire (a fusion that does not fire says why).
struct PassStats {
  std::map<std::string, int64_t> counters;
  std::vector<std::string> remarks;
  void count(const std::string& what, int64_t n = 1) { counters[what] += n; }
  void remark(std::string text) { remarks.push_back(std::move(text)); }
};

class Pass {
 public:
  virtual ~Pass() = default;
  virtual std::string name() const = 0;
  virtual std::string summary() const = 0;  // the one-line statement of what it does
  // Rewrites the module; returns whether it changed, or an error.
  virtual Expected<bool> run(Module& module, PassStats& stats) = 0;
};

// The options of one pass in a pipeline, as written: `name{key=value,k2=v2}`.
// Values are text; the pass reads the keys it knows with the typed getters,
// which throw GraphcError on a malformed value, and calls expect_only() so a
// misspelt key is an error rather than silently ignored. The registry turns
// such an error into one message naming the pass.
class PassOptions {
 public:
  PassOptions() = default;
  PassOptions(std::initializer_list<std::pair<const std::string, std::string>> kv) {
    for (const auto& [k, v] : kv) set(k, v);
  }

  // Keeps the order of first appearance, so a pipeline prints as written.
  void set(const std::string& key, std::string value) {
    for (auto& [k, v] : entries_)
      if (k == key) {
        v = std::move(value);
        return;
      }
    entries_.emplace_back(key, std::move(value));
  }
  bool empty() const { return entries_.empty(); }
  bool has(const std::string& key) const { return find(key) != nullptr; }
  const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }

  std::optional<std::string> get(const std::string& key) const {
    const std::string* v = find(key);
    return v ? std::optional<std::string>(*v) : std::nullopt;
  }
  int64_t get_int(const std::string& key, int64_t fallback) const {
    const std::string* v = find(key);
    if (!v) return fallback;
    size_t used = 0;
    int64_t out = 0;
    try {
      out = std::stoll(*v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != v->size())
      throw GraphcError("option '" + key + "' must be an integer, got '" + *v + "'");
    return out;
  }
  bool get_bool(const std::string& key, bool fallback) const {
    const std::string* v = find(key);
    if (!v) return fallback;
    if (*v == "true" || *v == "1") return true;
    if (*v == "false" || *v == "0") return false;
    throw GraphcError("option '" + key + "' must be true or false, got '" + *v + "'");
  }
  // Throws GraphcError naming the first key not in `known`.
  void expect_only(const std::vector<std::string>& known) const {
    for (const auto& [k, v] : entries_) {
      bool ok = false;
      for (const std::string& n : known) ok |= n == k;
      if (ok) continue;
      std::string list;
      for (const std::string& n : known) list += (list.empty() ? "" : ", ") + n;
      throw GraphcError("unknown option '" + k + "'" + (list.empty() ? " (it takes none)" : " (known: " + list + ")"));
    }
  }
  // "{key=value,k2=v2}", or "" when there are none.
  std::string str() const {
    if (entries_.empty()) return "";
    std::string out = "{";
    for (size_t i = 0; i < entries_.size(); ++i)
      out += (i ? "," : "") + entries_[i].first + "=" + entries_[i].second;
    return out + "}";
  }
  bool operator==(const PassOptions& o) const { return entries_ == o.entries_; }

 private:
  const std::string* find(const std::string& key) const {
    for (const auto& [k, v] : entries_)
      if (k == key) return &v;
    return nullptr;
  }
  std::vector<std::pair<std::string, std::string>> entries_;
};

// Makes a pass from its options. Each pass file defines one,
// `std::unique_ptr<Pass> create_<name>(const PassOptions&)`, and it is
// registered with one line in pass_registry.cpp.
using PassFactory = std::function<std::unique_ptr<Pass>(const PassOptions&)>;

// ---- Small facts about ops that several passes need --------------------------

// Pure: no side effects of its own nor in any op of its regions, and not a
// terminator. A pure op whose results are unused may be removed, and two
// identical pure ops may be merged.
inline bool is_pure(const Op& op) {
  if (op.def().has_side_effects || op.def().is_terminator) return false;
  for (const auto& region : op.regions())
    for (const auto& inner : region->ops())
      if (!inner->def().is_terminator && !is_pure(*inner)) return false;
  return true;
}

// Ops of a block and of the regions nested in it, terminators included.
inline int64_t count_ops(Block* block) {
  int64_t n = 0;
  walk(block, [&](Op*) { ++n; });
  return n;
}

inline int64_t count_ops(const Module& module) {
  int64_t n = 0;
  for (const auto& f : module.functions()) n += count_ops(f->body());
  return n;
}

}  // namespace graphc
