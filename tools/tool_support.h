// What the command-line tools share: loading an IR file with one clear error
// line, literal tensors on the command line, and the exit protocol (a message
// on stderr and exit code 1, never a stack trace).
#pragma once

#include <memory>
#include <string>

#include "ir/module.h"
#include "ir/status.h"
#include "runtime/host_tensor.h"

namespace graphc::tools {

inline constexpr const char* kVersion = GRAPHC_VERSION;

// Reads, parses and verifies an IR text file.
Expected<std::unique_ptr<Module>> load_module(const std::string& path);

// A tensor literal: `f32[2,3]=1,2,3,4,5,6`, `i64[]=7`, or `f32[4]=0.5` (splat).
Expected<HostTensor> parse_tensor_literal(const std::string& text);

// Runs main_body, turning any escaped exception into one line and exit code 1.
int run_tool(const char* tool, int (*main_body)(int, char**), int argc, char** argv);

}  // namespace graphc::tools
