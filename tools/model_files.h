// What every Gemma-3 experiment opens first: the checkpoint (mapped), the
// model's dimensions checked against it, and the tokenizer (the GGUF's own or
// model.tokenizer). Shared by generation/evaluation and training sessions.
#pragma once

#include <memory>

#include "graphs/gemma3_config.h"
#include "runtime/experiment.h"
#include "runtime/gemma3_checkpoint.h"
#include "runtime/tokenizer.h"

namespace graphc::tools {

struct ModelFiles {
  std::shared_ptr<const Gemma3Checkpoint> checkpoint;
  std::unique_ptr<Tokenizer> tokenizer;
  Gemma3Config config;
};

// Shows a "loading" progress line while it works.
Expected<ModelFiles> open_model_files(const Experiment& exp);

}  // namespace graphc::tools
