// The verifier: checks that a module is well formed and well typed. Its
// messages name the op, its line in the text form and what is wrong, e.g.
//   line 12: matmul %7: inner dims differ: [4,64] x [32,8]
// For modules built in C++ the line is the op's line in print_module()'s
// output, so `pass-dump` text and error messages agree.
#pragma once

#include "ir/module.h"
#include "ir/status.h"

namespace graphc {

Status verify_module(const Module& module);

}  // namespace graphc
