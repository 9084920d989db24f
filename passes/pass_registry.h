// The pass registry: every pass by name, made from its options.
//
//   Expected<std::unique_ptr<Pass>> p = create_pass("specialize-shapes", {{"seq", "128"}});
//
// The built-in passes are listed, one line each, in pass_registry.cpp. Tests
// may add their own (a deliberately broken pass, say) with register_pass().
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ir/status.h"
#include "passes/pass.h"

namespace graphc {

struct PassInfo {
  std::string name;
  std::string summary;  // the pass's one-line statement
};

// Every registered pass, sorted by name.
std::vector<PassInfo> all_passes();
bool is_registered_pass(const std::string& name);

// Makes a pass. An unknown name is an error that lists the known names; a bad
// option is an error naming the pass and the option.
Expected<std::unique_ptr<Pass>> create_pass(const std::string& name, const PassOptions& options = {});

// Adds a pass at run time (tests); replaces one of the same name.
void register_pass(const std::string& name, PassFactory factory);
void unregister_pass(const std::string& name);

}  // namespace graphc
