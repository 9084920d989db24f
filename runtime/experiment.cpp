#include "runtime/experiment.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "runtime/yaml_diagnostics.h"

namespace graphc {
namespace {

Status check_keys(const YAML::Node& map, const std::string& file, const std::string& section,
                  const std::vector<std::string>& allowed) {
  if (!map.IsMap())
    return Error{fmt::format("{}: {}: expected a mapping with keys {}", yaml_where(file, map), section,
                             join_keys(allowed))};
  for (const auto& kv : map) {
    const std::string key = kv.first.as<std::string>();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      return Error{fmt::format("{}: unknown key '{}{}'{} (allowed: {})", yaml_where(file, kv.first),
                               section.empty() ? "" : section + ".", key, did_you_mean(key, allowed),
                               join_keys(allowed))};
  }
  return Status::success();
}

Expected<std::string> pipeline_text(const YAML::Node& n, const std::string& file) {
  if (n.IsScalar()) return n.as<std::string>();
  if (n.IsSequence()) {
    std::string out;
    for (const YAML::Node& item : n) {
      if (!item.IsScalar())
        return Error{fmt::format("{}: compile.passes: each item must be a pass name", yaml_where(file, item))};
      out += (out.empty() ? "" : ",") + item.as<std::string>();
    }
    return out;
  }
  return Error{fmt::format("{}: compile.passes: expected a pipeline string or a list of pass names",
                           yaml_where(file, n))};
}

}  // namespace

Expected<std::string> expand_variables(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, 2, "${") != 0) {
      out += text[i++];
      continue;
    }
    const size_t close = text.find('}', i);
    if (close == std::string::npos) return Error{fmt::format("unterminated ${{ in '{}'", text)};
    std::string name = text.substr(i + 2, close - i - 2), fallback;
    bool has_fallback = false;
    if (const size_t dash = name.find(":-"); dash != std::string::npos) {
      fallback = name.substr(dash + 2);
      name = name.substr(0, dash);
      has_fallback = true;
    }
    const char* value = std::getenv(name.c_str());
    if (value && *value) out += value;
    else if (has_fallback) out += fallback;
    else return Error{fmt::format("environment variable {} is not set (in '{}')", name, text)};
    i = close + 1;
  }
  return out;
}

Expected<Experiment> parse_experiment(const std::string& yaml_text, const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return Error{fmt::format("{}:{}:{}: {}", file, e.mark.line + 1, e.mark.column + 1, e.msg)};
  }
  Status s = check_keys(root, file, "", {"model", "compile"});
  if (!s.ok()) return s.error();
  Experiment exp;
  exp.file = file;
  const YAML::Node model = root["model"];
  if (!model) return Error{fmt::format("{}: missing key 'model'", file)};
  if (model.IsMap() && model["weights"]) {
    const YAML::Node w = model["weights"];
    if (!w.IsScalar()) return Error{fmt::format("{}: model.weights: expected a path", yaml_where(file, w))};
    Expected<std::string> path = expand_variables(w.as<std::string>());
    if (!path.ok()) return Error{fmt::format("{}: model.weights: {}", yaml_where(file, w), path.error().message)};
    exp.weights = *path;
  }
  Expected<Gemma3Config> config = gemma3_config_from_yaml(model, file, {"weights"});
  if (!config.ok()) return config.error();
  exp.model = *config;
  if (const YAML::Node compile = root["compile"]) {
    s = check_keys(compile, file, "compile", {"passes", "dtype", "threads", "cache_dir"});
    if (!s.ok()) return s.error();
    if (compile["passes"]) {
      Expected<std::string> p = pipeline_text(compile["passes"], file);
      if (!p.ok()) return p.error();
      exp.passes = *p;
    }
    if (const YAML::Node d = compile["dtype"]) {
      const std::string v = d.IsScalar() ? d.Scalar() : "";
      if (v != "f32" && v != "stored")
        return Error{fmt::format("{}: compile.dtype: expected f32 (every weight dequantized) or stored (the "
                                 "checkpoint's own formats), got '{}'",
                                 yaml_where(file, d), v)};
      exp.weights_dtype = v;
    }
    if (const YAML::Node t = compile["threads"]) {
      int64_t n = -1;
      try {
        n = t.IsScalar() ? t.as<int64_t>() : -1;
      } catch (const YAML::Exception&) {
      }
      if (n < 0 || n > 1024)
        return Error{fmt::format("{}: compile.threads: expected an integer from 0 (all cores) to 1024, got '{}'",
                                 yaml_where(file, t), t.IsScalar() ? t.Scalar() : "a non-scalar")};
      exp.threads = static_cast<int>(n);
    }
    if (const YAML::Node c = compile["cache_dir"]) {
      if (!c.IsScalar()) return Error{fmt::format("{}: compile.cache_dir: expected a path", yaml_where(file, c))};
      Expected<std::string> dir = expand_variables(c.Scalar());
      if (!dir.ok()) return Error{fmt::format("{}: compile.cache_dir: {}", yaml_where(file, c), dir.error().message)};
      exp.cache_dir = *dir;
    }
  }
  return exp;
}

std::string default_cache_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/graphc";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/graphc";
  return "";
}

Expected<Experiment> load_experiment(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error{fmt::format("{}: cannot open the experiment file", path)};
  std::stringstream text;
  text << in.rdbuf();
  return parse_experiment(text.str(), path);
}

}  // namespace graphc
