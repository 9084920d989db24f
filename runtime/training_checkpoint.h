// A training checkpoint: every state global a run needs to continue exactly
// (trainable parameters, optimizer moments) as F32 tensors of one
// safetensors file, and the scalars (step, data position, seeds) in its
// metadata. Written to a temporary file, fsynced and renamed, so a crash
// leaves the previous checkpoint or the new one, never half of one.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "ir/status.h"
#include "runtime/host_tensor.h"

namespace graphc {

struct TrainingCheckpoint {
  std::vector<std::pair<std::string, HostTensor>> tensors;
  std::map<std::string, std::string> metadata;  // "step", "data_position", ...

  // The integer metadata entry `key`, or an error naming the file and key.
  Expected<int64_t> integer(const std::string& key) const;
  std::string path;  // where it was read from
};

Status write_training_checkpoint(const std::string& path, const TrainingCheckpoint& checkpoint);

// The same from tensors fetched one at a time while the file is written
// (full fine-tuning's state is gigabytes: never all copied at once).
struct CheckpointEntry {
  std::string name;
  std::vector<int64_t> shape;
  std::function<HostTensor()> fetch;  // an f32 tensor of `shape`
};
Status write_training_checkpoint(const std::string& path, const std::vector<CheckpointEntry>& entries,
                                 const std::map<std::string, std::string>& metadata);
Expected<TrainingCheckpoint> read_training_checkpoint(const std::string& path);

}  // namespace graphc
