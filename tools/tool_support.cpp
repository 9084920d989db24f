#include "tools/tool_support.h"

#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "ir/parser.h"
#include "ir/verifier.h"

namespace graphc::tools {

Expected<std::unique_ptr<Module>> load_module(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{fmt::format("{}: cannot open file", path)};
  std::stringstream text;
  text << in.rdbuf();
  Expected<std::unique_ptr<Module>> m = parse_module(text.str(), path);
  if (!m.ok()) return m.error();
  Status s = verify_module(**m);
  if (!s.ok()) return Error{fmt::format("{}: {}", path, s.error().message)};
  return m;
}

Expected<HostTensor> parse_tensor_literal(const std::string& text) {
  const auto bad = [&](const std::string& why) {
    return Error{fmt::format("bad tensor literal '{}': {} (expected e.g. f32[2,2]=1,2,3,4)", text, why)};
  };
  const size_t open = text.find('['), close = text.find(']'), eq = text.find('=');
  if (open == std::string::npos || close == std::string::npos || eq == std::string::npos || close > eq ||
      open > close)
    return bad("missing type or '='");
  std::optional<DType> dtype = parse_dtype(text.substr(0, open));
  if (!dtype) return bad("unknown dtype '" + text.substr(0, open) + "'");
  std::vector<int64_t> shape;
  std::stringstream dims(text.substr(open + 1, close - open - 1));
  for (std::string d; std::getline(dims, d, ',');) {
    try {
      size_t used = 0;
      shape.push_back(std::stoll(d, &used));
      if (used != d.size() || shape.back() < 0) return bad("bad dim '" + d + "'");
    } catch (const std::exception&) {
      return bad("bad dim '" + d + "'");
    }
  }
  std::vector<double> values;
  std::stringstream vals(text.substr(eq + 1));
  for (std::string v; std::getline(vals, v, ',');) {
    try {
      size_t used = 0;
      values.push_back(std::stod(v, &used));
      if (used != v.size()) return bad("bad value '" + v + "'");
    } catch (const std::exception&) {
      return bad("bad value '" + v + "'");
    }
  }
  HostTensor t(*dtype, shape);
  if (values.size() == 1) {
    for (int64_t i = 0; i < t.numel(); ++i) t.set(i, values[0]);
  } else if (static_cast<int64_t>(values.size()) == t.numel()) {
    for (int64_t i = 0; i < t.numel(); ++i) t.set(i, values[i]);
  } else {
    return bad(fmt::format("{} values for {} elements", values.size(), t.numel()));
  }
  return t;
}

int run_tool(const char* tool, int (*main_body)(int, char**), int argc, char** argv) {
  try {
    return main_body(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", tool, e.what());
    return 1;
  }
}

}  // namespace graphc::tools
