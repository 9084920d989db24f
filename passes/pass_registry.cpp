#include "passes/pass_registry.h"

#include <map>
#include <mutex>

namespace graphc {

// ===== The registered passes: one line each, PASS(name, factory). ==========
// A factory is `std::unique_ptr<Pass> create_<name>(const PassOptions&)`,
// defined in the pass's own file. Keep the groups; add a pass at the end of
// its group.
#define GRAPHC_PASS_LIST(PASS)                             \
  /* cleanup and shapes */                                 \
  PASS("canonicalize", create_canonicalize)                \
  PASS("cse", create_cse)                                  \
  PASS("dce", create_dce)                                  \
  PASS("fold-constants", create_fold_constants)            \
  PASS("specialize-shapes", create_specialize_shapes)      \
  /* fusion */                                             \
  PASS("fuse-rmsnorm", create_fuse_rmsnorm)                \
  PASS("fuse-rope", create_fuse_rope)                      \
  PASS("fuse-attention", create_fuse_attention)            \
  PASS("fuse-geglu", create_fuse_geglu)                    \
  PASS("fuse-elementwise", create_fuse_elementwise)        \
  /* layout */                                             \
  PASS("transpose-to-reshape", create_transpose_to_reshape) \
  PASS("plan-memory", create_plan_memory)                  \
  /* adapters */                                           \
  PASS("add-lora", create_add_lora)                        \
  PASS("fold-lora", create_fold_lora)                      \
  /* training */                                           \
  PASS("weights-to-state", create_weights_to_state)        \
  /* end of the list */

#define GRAPHC_DECLARE_PASS(name, factory) std::unique_ptr<Pass> factory(const PassOptions&);
GRAPHC_PASS_LIST(GRAPHC_DECLARE_PASS)
#undef GRAPHC_DECLARE_PASS

namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, PassFactory> factories;  // sorted: all_passes() is deterministic
};

Registry& registry() {
  static Registry* r = [] {
    auto* reg = new Registry;
#define GRAPHC_ADD_PASS(name, factory) reg->factories[name] = factory;
    GRAPHC_PASS_LIST(GRAPHC_ADD_PASS)
#undef GRAPHC_ADD_PASS
    return reg;
  }();
  return *r;
}

PassFactory find_factory(const std::string& name) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.factories.find(name);
  return it == r.factories.end() ? PassFactory{} : it->second;
}

}  // namespace

std::vector<PassInfo> all_passes() {
  std::vector<std::pair<std::string, PassFactory>> entries;
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    entries.assign(r.factories.begin(), r.factories.end());
  }
  std::vector<PassInfo> out;
  for (const auto& [name, factory] : entries) out.push_back({name, factory(PassOptions{})->summary()});
  return out;
}

bool is_registered_pass(const std::string& name) { return static_cast<bool>(find_factory(name)); }

Expected<std::unique_ptr<Pass>> create_pass(const std::string& name, const PassOptions& options) {
  PassFactory factory = find_factory(name);
  if (!factory) {
    std::string known;
    for (const PassInfo& p : all_passes()) known += (known.empty() ? "" : ", ") + p.name;
    return Error{"unknown pass '" + name + "' (known passes: " + known + ")"};
  }
  try {
    return factory(options);
  } catch (const std::exception& e) {
    return Error{"pass '" + name + "': " + e.what()};
  }
}

void register_pass(const std::string& name, PassFactory factory) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.factories[name] = std::move(factory);
}

void unregister_pass(const std::string& name) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.factories.erase(name);
}

}  // namespace graphc
