// Positioned, helpful errors for YAML inputs (experiments): where a node is
// (file:line:column) and which allowed key a misspelt one was meant to be.
#pragma once

#include <string>
#include <vector>

namespace YAML {
class Node;
}

namespace graphc {

// "file:line:column" of a node (1-based).
std::string yaml_where(const std::string& file, const YAML::Node& node);

// " (did you mean 'hidden'?)" when one allowed key is close, else "".
std::string did_you_mean(const std::string& key, const std::vector<std::string>& allowed);

// "a, b, c"
std::string join_keys(const std::vector<std::string>& keys);

}  // namespace graphc
