// Where tests find the real checkpoints that scripts/fetch-weights.sh
// fetches: $GRAPHC_MODELS_DIR (as for the script) or models/ in the source
// tree. Tests that need one skip themselves when it is absent.
#pragma once

#include <cstdlib>
#include <filesystem>

namespace graphc::test_support {

inline std::filesystem::path models_dir() {
  if (const char* dir = std::getenv("GRAPHC_MODELS_DIR"); dir && *dir) return dir;
  return std::filesystem::path(GRAPHC_SOURCE_DIR) / "models";
}

inline std::filesystem::path gemma3_270m_gguf() { return models_dir() / "gemma-3-270m-Q4_K_M.gguf"; }

}  // namespace graphc::test_support
