// A pass: one rewrite of a module, registered by name. run() returns whether
// it changed anything; statistics it records show up in pass-dump --stats.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/module.h"
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

using PassFactory = std::function<std::unique_ptr<Pass>()>;

}  // namespace graphc
