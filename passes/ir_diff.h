// A line-based unified diff, for showing what a pass changed (pass-dump
// --format=diff). It finds a longest common subsequence of lines, so the
// output is minimal and the same for the same inputs.
#pragma once

#include <string>
#include <string_view>

namespace graphc {

// "--- before_name\n+++ after_name\n@@ -l,n +l,n @@\n ..." with `context`
// unchanged lines around each change; "" when the texts are equal.
std::string unified_diff(std::string_view before, std::string_view after, std::string_view before_name,
                         std::string_view after_name, int context = 3);

}  // namespace graphc
