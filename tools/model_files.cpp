#include "tools/model_files.h"

#include <fmt/format.h>

#include "runtime/progress.h"

namespace graphc::tools {

Expected<ModelFiles> open_model_files(const Experiment& exp) {
  if (exp.weights.empty())
    return Error{exp.file + ": model.weights: no checkpoint given (a path to a .gguf or .safetensors file)"};
  Progress loading("loading " + exp.weights);
  auto opened = Gemma3Checkpoint::open(exp.weights);
  if (!opened.ok()) return opened.error();
  ModelFiles f;
  f.checkpoint = std::make_shared<const Gemma3Checkpoint>(std::move(opened).take());
  f.config = exp.model;
  if (const GgufReader* g = f.checkpoint->gguf()) {
    auto config = config_from_gguf(*g, exp.model);
    if (!config.ok()) return config.error();
    f.config = *config;
  }
  if (!exp.tokenizer.empty()) {
    auto t = Tokenizer::from_model_file(exp.tokenizer);
    if (!t.ok()) return t.error();
    f.tokenizer = std::make_unique<Tokenizer>(std::move(t).take());
  } else if (const GgufReader* g = f.checkpoint->gguf()) {
    auto t = tokenizer_from_gguf(*g);
    if (!t.ok()) return t.error();
    f.tokenizer = std::make_unique<Tokenizer>(std::move(t).take());
  } else {
    return Error{exp.file + ": model.tokenizer: a safetensors checkpoint carries no tokenizer; give the path of "
                            "its tokenizer.model"};
  }
  loading.finish(fmt::format("{} ({} layers, vocab {})", f.config.name, f.config.layers, f.config.vocab));
  return f;
}

}  // namespace graphc::tools
