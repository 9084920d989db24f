// An experiment file (YAML): the model, its weights and how to compile it.
// Every key is checked; an unknown key, a wrong type or a bad value is one
// error naming file:line:column, the key and what is allowed.
//
//   model:
//     preset: gemma3-270m          # or explicit dims (graphs/gemma3_config.h)
//     weights: ${GRAPHC_MODELS_DIR}/gemma-3-270m-Q4_K_M.gguf
//   compile:
//     passes: default              # a pipeline string or a YAML list
//     dtype: stored                # weights: stored (the checkpoint's formats) or f32
//     threads: 0                   # 0: all cores
//     cache_dir: ${HOME}/.cache/graphc   # the JIT's object cache ('' for none)
//
// The run section (generate, evaluate, train) joins as the tools learn it.
#pragma once

#include <string>

#include "graphs/gemma3_config.h"
#include "ir/status.h"

namespace graphc {

// $XDG_CACHE_HOME/graphc, else $HOME/.cache/graphc, else empty (no cache).
std::string default_cache_dir();

struct Experiment {
  std::string file;
  Gemma3Config model;
  std::string weights;             // empty: no checkpoint named
  std::string passes = "default";  // a pipeline string
  std::string weights_dtype = "stored";  // "stored" or "f32"
  int threads = 0;                       // 0: all cores
  std::string cache_dir = default_cache_dir();
};

Expected<Experiment> load_experiment(const std::string& path);
Expected<Experiment> parse_experiment(const std::string& yaml_text, const std::string& file);

// Replaces ${VAR} with the environment variable's value; ${VAR:-default}
// when it is unset or empty. An unset variable without a default is an error.
Expected<std::string> expand_variables(const std::string& text);

}  // namespace graphc
